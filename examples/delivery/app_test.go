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
	out *obsBuffer // what the app wrote to stdout: logs, and spans with TRACE_STDOUT
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
	out := &obsBuffer{}
	a, err := newApp(context.Background(), cfg, getenv, out)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^demo API key: (\S+)$`).FindStringSubmatch(out.String())
	require.NotNil(t, m, "the demo key is printed: %s", out.String())
	return &stack{h: checked(t, a.handler), key: m[1], a: a, out: out}
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

// TestFailedAuthThrottle: an address that keeps presenting bad credentials is refused 429
// for them, while a valid credential from that same address is served; the success does not
// reset the count, and other addresses are judged on their own.
func TestFailedAuthThrottle(t *testing.T) {
	t.Parallel()
	issuer := newIssuer(t)
	s := newStackEnv(t, map[string]string{"DATA_DIR": t.TempDir(), "OIDC_ISSUER": issuer.url, "OIDC_AUDIENCE": "delivery"})
	defer s.stop()
	token := issuer.token(t, "acme", "deliveries:read deliveries:write")
	forged := issuer.token(t, "acme", "deliveries:read")
	forged = forged[:len(forged)-6] + "AAAAAA" // a signature that does not verify

	for _, tc := range []struct {
		name     string
		bad      func(r *http.Request)
		good     func(r *http.Request)
		attacker string
	}{
		{"api key", withKey(s.key[:len(s.key)-1] + "x"), withKey(s.key), "203.0.113.66"},
		{"bearer", withBearer(forged), withBearer(token), "203.0.113.77"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 5 { // failedAuthRate's burst
				require.Equal(t, http.StatusUnauthorized, s.send(http.MethodGet, "/v1/deliveries", tc.attacker, tc.bad).Code, "failure %d", i+1)
			}
			rec := s.send(http.MethodGet, "/v1/deliveries", tc.attacker, tc.bad)
			require.Equal(t, http.StatusTooManyRequests, rec.Code, "the next bad credential from that address")
			assert.NotEmpty(t, rec.Header().Get("Retry-After"))
			assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))

			require.Equal(t, http.StatusOK, s.send(http.MethodGet, "/v1/deliveries", tc.attacker, tc.good).Code,
				"a valid credential from the same address is served at once")
			require.Equal(t, http.StatusOK, s.send(http.MethodGet, "/v1/deliveries", "198.51.100.9", tc.good).Code,
				"and from another address")
			assert.Equal(t, http.StatusTooManyRequests, s.send(http.MethodGet, "/v1/deliveries", tc.attacker, tc.bad).Code,
				"the success did not reset the failures")
			assert.Equal(t, http.StatusUnauthorized, s.send(http.MethodGet, "/v1/deliveries", "198.51.100.10", tc.bad).Code,
				"another address is judged on its own")
		})
	}
}

// send is do with a request editor, for credentials other than an API key.
func (s *stack) send(method, path, client string, edit func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = client + ":5555"
	edit(r)
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

func withKey(key string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("X-API-Key", key) }
}

func withBearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
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

// TestComposedAPIOnPostgres: with DATABASE_URL, keys, usage and billing share one pool and
// live in PostgreSQL; a restart that keeps only the database still knows them all.
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
	rec = s.do(http.MethodPut, "/v1/me/subscription", s.key, "198.51.100.1", map[string]any{"plan": "starter"})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
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
	rec = s.do(http.MethodGet, "/v1/me/subscription", s.key, "198.51.100.1", nil)
	require.Equal(t, http.StatusOK, rec.Code, "the subscription lives in PostgreSQL: %s", rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"plan":"starter"`)
}
