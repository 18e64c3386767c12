package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/examples/delivery/deliveries"
)

var demoLine = regexp.MustCompile(`^demo API key: (tg_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{36})\n$`)

// startAuth wires authentication the way run does and returns the handler and the demo key.
func startAuth(t *testing.T, env map[string]string) (http.Handler, *auth.Authenticator, string) {
	t.Helper()
	var out bytes.Buffer
	authn, closeAuth, err := newAuth(context.Background(), func(k string) string { return env[k] }, database(t, env), &out, nil)
	require.NoError(t, err)
	t.Cleanup(closeAuth)
	m := demoLine.FindStringSubmatch(out.String())
	require.NotNil(t, m, "stdout must be exactly one demo key line, got %q", out.String())

	mux := http.NewServeMux()
	api := newAPI(mux)
	api.UseMiddleware(authn.Huma(api))
	svc := &deliveries.Service{Store: deliveries.NewStore(nil), Owner: ownerOf}
	deliveries.Register(huma.NewGroup(api, "/v1"), svc, authPolicy())
	return checked(t, mux), authn, m[1]
}

func do(t *testing.T, h http.Handler, method, path, key string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Content-Type", "application/json")
	if key != "" {
		r.Header.Set("X-API-Key", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestAuthLocalMode(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"DATA_DIR": dir}
	h, authn, key := startAuth(t, env)

	resp := do(t, h, "GET", "/v1/deliveries", "", nil)
	require.Equal(t, http.StatusUnauthorized, resp.Code)
	assert.Equal(t, "application/problem+json", resp.Header().Get("Content-Type"))
	assert.Contains(t, resp.Header().Get("WWW-Authenticate"), `ApiKey realm="api"`)

	resp = do(t, h, "POST", "/v1/deliveries", key, newDelivery)
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	var d deliveries.Delivery
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &d))
	require.Equal(t, http.StatusOK, do(t, h, "GET", "/v1/deliveries", key, nil).Code)
	require.Equal(t, http.StatusOK, do(t, h, "GET", "/v1/deliveries/"+d.ID, key, nil).Code)

	// Scopes differ by operation, and each consumer sees only its own deliveries.
	reader, err := authn.Keys().Create(context.Background(), auth.KeySpec{Consumer: "other", Scopes: []string{scopeRead}})
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, do(t, h, "POST", "/v1/deliveries", reader.Key.Reveal(), newDelivery).Code)
	assert.Equal(t, http.StatusNotFound, do(t, h, "GET", "/v1/deliveries/"+d.ID, reader.Key.Reveal(), nil).Code)

	// Docs stay public; the OpenAPI shows the schemes and per-operation scopes.
	require.Equal(t, http.StatusOK, do(t, h, "GET", "/docs", "", nil).Code)
	resp = do(t, h, "GET", "/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, resp.Code)
	var doc struct {
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
		Paths map[string]map[string]struct {
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &doc))
	assert.Contains(t, doc.Components.SecuritySchemes, auth.SchemeAPIKey)
	// The key also works as a bearer token, so the document offers both ways.
	assert.Equal(t, []map[string][]string{{auth.SchemeAPIKey: {scopeRead}}, {auth.SchemeBearer: {scopeRead}}}, doc.Paths["/v1/deliveries"]["get"].Security)
	assert.Equal(t, []map[string][]string{{auth.SchemeAPIKey: {scopeWrite}}, {auth.SchemeBearer: {scopeWrite}}}, doc.Paths["/v1/deliveries"]["post"].Security)

	for _, f := range []string{"keys.jsonl", "key-secret", "demo-api-key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
	journal, err := os.ReadFile(filepath.Join(dir, "keys.jsonl"))
	require.NoError(t, err)
	assert.NotContains(t, string(journal), key[len("tg_live_")+13:], "the store holds digests only")
}

func TestAuthLocalModeSurvivesRestart(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATA_DIR": t.TempDir()}
	var out bytes.Buffer
	_, closeAuth, err := newAuth(context.Background(), func(k string) string { return env[k] }, database(t, env), &out, nil)
	require.NoError(t, err)
	closeAuth()
	m := demoLine.FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	first := m[1]
	h, _, second := startAuth(t, env)
	assert.Equal(t, first, second, "the demo key is kept across restarts")
	assert.Equal(t, http.StatusOK, do(t, h, "GET", "/v1/deliveries", first, nil).Code)
}

func TestAuthPostgresMode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := map[string]string{
		"DATABASE_URL":        testSchema(t),
		"TOLLGATE_KEY_SECRET": "0123456789abcdef0123456789abcdef-example",
	}
	h, _, key := startAuth(t, env)
	assert.Equal(t, http.StatusOK, do(t, h, "GET", "/v1/deliveries", key, nil).Code)

	// On a later start the key is not shown again: only its digest is stored.
	var out bytes.Buffer
	_, closeAuth, err := newAuth(ctx, func(k string) string { return env[k] }, database(t, env), &out, nil)
	require.NoError(t, err)
	closeAuth()
	assert.Empty(t, out.String())

	_, _, err = newAuth(ctx, func(k string) string {
		if k == "TOLLGATE_KEY_SECRET" {
			return ""
		}
		return env[k]
	}, database(t, env), &out, nil)
	require.ErrorContains(t, err, "TOLLGATE_KEY_SECRET")
}
