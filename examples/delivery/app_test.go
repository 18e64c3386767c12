package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stack is the whole delivery API as run composes it, served in-process.
type stack struct {
	h   http.Handler
	key string
	a   *app
}

func newStack(t *testing.T, dataDir string) *stack {
	t.Helper()
	return newStackEnv(t, map[string]string{"DATA_DIR": dataDir})
}

func newStackEnv(t *testing.T, env map[string]string) *stack {
	t.Helper()
	env["SHUTDOWN_DRAIN_DELAY"] = "0"
	getenv := func(k string) string { return env[k] }
	cfg, err := loadConfig(getenv)
	require.NoError(t, err)
	var out bytes.Buffer
	a, err := newApp(context.Background(), cfg, getenv, &out)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^demo API key: (\S+)$`).FindStringSubmatch(out.String())
	require.NotNil(t, m, "the demo key is printed: %s", out.String())
	return &stack{h: checked(t, a.handler), key: m[1], a: a}
}

// stop shuts the stack down the way SIGTERM does after the server drained.
func (s *stack) stop() { s.a.close() }

func (s *stack) do(method, path, key, client string, body any) *httptest.ResponseRecorder {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	r := httptest.NewRequest(method, path, bytes.NewReader(b))
	r.RemoteAddr = client + ":5555"
	r.Header.Set("Content-Type", "application/json")
	if key != "" {
		r.Header.Set("X-API-Key", key)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

// TestComposedAPI checks the promises the example makes to a newcomer, through every layer
// at once: observe, auth, metering and ratelimit in front of the domain.
func TestComposedAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newStack(t, dir)

	// Without a credential: 401 problem+json with a challenge, and no detail to an attacker.
	rec := s.do(http.MethodGet, "/v1/deliveries", "", "198.51.100.1", nil)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")

	// The demo key creates deliveries: each one charged, texted and metered.
	const created = 3
	for range created {
		rec = s.do(http.MethodPost, "/v1/deliveries", s.key, "198.51.100.1", newDelivery)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		assert.NotEmpty(t, rec.Header().Get("RateLimit"), "allowed responses carry RateLimit")
	}

	// A burst reaches the per-consumer limit: 429 with the IETF headers and Retry-After.
	var limited *httptest.ResponseRecorder
	for range 20 {
		rec = s.do(http.MethodGet, "/v1/deliveries", s.key, "198.51.100.1", nil)
		if rec.Code == http.StatusTooManyRequests {
			limited = rec
			break
		}
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	require.NotNil(t, limited, "a burst with the demo key is limited")
	assert.NotEmpty(t, limited.Header().Get("RateLimit"))
	assert.NotEmpty(t, limited.Header().Get("RateLimit-Policy"))
	assert.NotEmpty(t, limited.Header().Get("Retry-After"))
	assert.Equal(t, "application/problem+json", limited.Header().Get("Content-Type"))

	// Usage is the caller's own and exact, and survives a restart: a new stack on the same
	// data directory (whose in-process limiter also starts afresh) reads it back.
	s.stop()
	s = newStack(t, dir)
	defer s.stop()
	rec = s.do(http.MethodGet, "/v1/me/usage", s.key, "198.51.100.1", nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var usage struct {
		Day, Month struct{ Usage map[string]int64 }
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &usage))
	assert.EqualValues(t, created, usage.Day.Usage["deliveries"], "every delivery metered once, kept across the restart")
	assert.EqualValues(t, created, usage.Day.Usage["sms"], "every text metered")
	assert.EqualValues(t, created, usage.Month.Usage["deliveries"])
}

// TestWrongKeysAreThrottledPerClient: an address that keeps presenting bad keys is slowed
// down on its own budget; another address, and the real key's owner, are not affected.
func TestWrongKeysAreThrottledPerClient(t *testing.T) {
	t.Parallel()
	s := newStack(t, t.TempDir())
	defer s.stop()
	bad := s.key[:len(s.key)-1] + "x" // fails its checksum: never reaches the store
	var throttled *httptest.ResponseRecorder
	for range 10 {
		rec := s.do(http.MethodGet, "/v1/deliveries", bad, "203.0.113.66", nil)
		if rec.Code == http.StatusTooManyRequests {
			throttled = rec
			break
		}
		require.Equal(t, http.StatusUnauthorized, rec.Code)
	}
	require.NotNil(t, throttled, "repeated failures from one address are throttled")
	assert.NotEmpty(t, throttled.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusUnauthorized, s.do(http.MethodGet, "/v1/deliveries", bad, "203.0.113.67", nil).Code,
		"another address is judged on its own")
	assert.Equal(t, http.StatusOK, s.do(http.MethodGet, "/v1/deliveries", s.key, "198.51.100.9", nil).Code,
		"the key's owner is not locked out")
}

// TestOpenAPIDescribesThePolicy: what the server enforces is what the document says.
func TestOpenAPIDescribesThePolicy(t *testing.T) {
	t.Parallel()
	s := newStack(t, t.TempDir())
	defer s.stop()
	rec := s.do(http.MethodGet, "/openapi.json", "", "198.51.100.1", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	var doc struct {
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		}
		Paths map[string]map[string]struct {
			Security  []map[string][]string `json:"security"`
			Responses map[string]any        `json:"responses"`
			Meter     any                   `json:"x-tollgate-meter"`
		}
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	assert.Contains(t, doc.Components.SecuritySchemes, "apiKey")
	create := doc.Paths["/v1/deliveries"]["post"]
	require.NotEmpty(t, create.Security)
	assert.Contains(t, create.Security[0], "apiKey")
	for _, code := range []string{"401", "403", "429"} {
		assert.Contains(t, create.Responses, code, "createDelivery documents %s", code)
	}
	assert.NotNil(t, create.Meter, "createDelivery documents its meter")
	assert.Contains(t, doc.Paths, "/v1/me/usage")
}

// TestComposedAPIOnPostgres: with DATABASE_URL, keys and usage share one pool and both live
// in PostgreSQL; a restart that keeps only the database still knows the key and the usage.
func TestComposedAPIOnPostgres(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATA_DIR":            t.TempDir(),
		"DATABASE_URL":        testSchema(t),
		"TOLLGATE_KEY_SECRET": "0123456789abcdef0123456789abcdef-example",
	}
	s := newStackEnv(t, env)
	rec := s.do(http.MethodPost, "/v1/deliveries", s.key, "198.51.100.1", newDelivery)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	s.stop()

	env["DATA_DIR"] = t.TempDir() // nothing local survives: only the database
	getenv := func(k string) string { return env[k] }
	cfg, err := loadConfig(getenv)
	require.NoError(t, err)
	a, err := newApp(context.Background(), cfg, getenv, io.Discard)
	require.NoError(t, err)
	defer a.close()
	s = &stack{h: checked(t, a.handler), key: s.key, a: a}
	rec = s.do(http.MethodGet, "/v1/me/usage", s.key, "198.51.100.1", nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var usage struct {
		Day struct{ Usage map[string]int64 }
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &usage))
	assert.EqualValues(t, 1, usage.Day.Usage["deliveries"])
}
