package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
)

type whoOutput struct {
	Body struct {
		Consumer string `json:"consumer"`
	}
}

func who(ctx context.Context, _ *struct{}) (*whoOutput, error) {
	out := &whoOutput{}
	if p := auth.FromContext(ctx); p != nil {
		out.Body.Consumer = p.Consumer
	}
	return out, nil
}

func register(api huma.API, op huma.Operation, mods ...func(*huma.Operation)) {
	for _, m := range mods {
		m(&op)
	}
	huma.Register(api, op, who)
}

// fixture is an API with a public, an authenticated and a scoped operation.
type fixture struct {
	api    humatest.TestAPI
	keys   *auth.Keys
	reader string // key with deliveries:read
	token  string // JWT with deliveries:read deliveries:write
}

func newFixture(t *testing.T, cfg auth.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	c := newClock()
	keys := newKeys(t, c, nil)
	issued, err := keys.Create(ctx, auth.KeySpec{Consumer: "alice", Scopes: []string{"deliveries:read"}})
	require.NoError(t, err)
	es := newES256(t, "k")
	cfg.Keys = keys
	cfg.JWT = &auth.JWTConfig{Issuers: []auth.Issuer{{Issuer: "https://i/", Audience: testAud, JWKS: jwksOf(es)}}}
	cfg.Now = c.Now
	authn, err := auth.New(cfg)
	require.NoError(t, err)

	_, api := humatest.New(t, huma.DefaultConfig("Test", "1.0.0"))
	api.UseMiddleware(authn.Huma(api))
	register(api, huma.Operation{OperationID: "health", Method: http.MethodGet, Path: "/health"}, auth.Public())
	register(api, huma.Operation{OperationID: "whoami", Method: http.MethodGet, Path: "/whoami"}, auth.Require())
	grp := huma.NewGroup(api, "/v1")
	grp.UseSimpleModifier(auth.Require("deliveries:read"))
	huma.Get(grp, "/read", who)
	huma.Post(grp, "/write", who, auth.Require("deliveries:write"))
	return &fixture{api: api, keys: keys, reader: issued.Key.Reveal(), token: es.sign(t, claimsAt(c.Now(), "https://i/"), nil)}
}

func TestHumaEnforcesDeclarations(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Config{})
	key := "X-API-Key: " + f.reader
	bearerKey := "Authorization: Bearer " + f.reader
	bearer := "Authorization: Bearer " + f.token
	cases := []struct {
		name, method, path string
		headers            []any
		status             int
		challenge          string
	}{
		{"public without credential", "GET", "/health", nil, 200, ""},
		{"authenticated without credential", "GET", "/whoami", nil, 401, `Bearer realm="api", ApiKey realm="api", header="X-API-Key"`},
		{"authenticated with key", "GET", "/whoami", []any{key}, 200, ""},
		{"key as bearer", "GET", "/whoami", []any{bearerKey}, 200, ""},
		{"jwt", "GET", "/whoami", []any{bearer}, 200, ""},
		{"scoped read with key", "GET", "/v1/read", []any{key}, 200, ""},
		{"group scope and op scope add up", "POST", "/v1/write", []any{key}, 403, `ApiKey realm="api", error="insufficient_scope", scope="deliveries:read deliveries:write"`},
		{"jwt with both scopes", "POST", "/v1/write", []any{bearer}, 200, ""},
		{"bad key", "GET", "/v1/read", []any{"X-API-Key: tg_live_nope"}, 401, `Bearer realm="api", ApiKey realm="api", error="invalid_token"`},
		{"bad token", "GET", "/v1/read", []any{"Authorization: Bearer a.b.c"}, 401, `Bearer realm="api", error="invalid_token", ApiKey realm="api", header="X-API-Key"`},
		{"two credentials", "GET", "/v1/read", []any{key, bearer}, 400, `Bearer realm="api", error="invalid_request", ApiKey realm="api", header="X-API-Key"`},
		{"other scheme is no credential", "GET", "/v1/read", []any{"Authorization: Basic dTpw"}, 401, `Bearer realm="api", ApiKey realm="api", header="X-API-Key"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resp *httptest.ResponseRecorder
			if tc.method == "GET" {
				resp = f.api.Get(tc.path, tc.headers...)
			} else {
				resp = f.api.Post(tc.path, tc.headers...)
			}
			require.Equal(t, tc.status, resp.Code, resp.Body.String())
			assert.Equal(t, tc.challenge, resp.Header().Get("WWW-Authenticate"))
			if tc.status >= 400 {
				assert.Equal(t, "application/problem+json", resp.Header().Get("Content-Type"))
				assert.NotContains(t, resp.Body.String(), f.reader[20:])
			} else if tc.path != "/health" {
				assert.Contains(t, resp.Body.String(), `"consumer"`)
			}
		})
	}
}

func TestHumaOpenAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Config{Throttle: newFailThrottle(3, time.Minute)})
	resp := f.api.Get("/openapi.json")
	require.Equal(t, 200, resp.Code, "huma's own routes are not operations and stay reachable")
	require.Equal(t, 200, f.api.Get("/docs").Code)
	var doc struct {
		Components struct {
			SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
		} `json:"components"`
		Paths map[string]map[string]struct {
			Security  []map[string][]string      `json:"security"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &doc))
	assert.Equal(t, "apiKey", doc.Components.SecuritySchemes["apiKey"]["type"])
	assert.Equal(t, "X-API-Key", doc.Components.SecuritySchemes["apiKey"]["name"])
	assert.Equal(t, "bearer", doc.Components.SecuritySchemes["bearer"]["scheme"])

	write := doc.Paths["/v1/write"]["post"]
	assert.Equal(t, []map[string][]string{
		{"apiKey": {"deliveries:read", "deliveries:write"}},
		{"bearer": {"deliveries:read", "deliveries:write"}},
	}, write.Security)
	for _, code := range []string{"400", "401", "403", "429", "503"} {
		assert.Contains(t, write.Responses, code)
	}
	for _, code := range []string{"400", "401", "403"} {
		assert.Contains(t, string(write.Responses[code]), "WWW-Authenticate", code)
	}
	assert.Contains(t, string(write.Responses["429"]), "Retry-After")
	// Only OAuth 2.0 schemes declare scopes: the others name them in their description.
	for _, scheme := range []string{"apiKey", "bearer"} {
		s := doc.Components.SecuritySchemes[scheme]
		assert.Contains(t, s["description"], "deliveries:read, deliveries:write", scheme)
		assert.Equal(t, []any{"deliveries:read", "deliveries:write"}, s["x-tollgate-scopes"], scheme)
	}
	who := doc.Paths["/whoami"]["get"]
	assert.Contains(t, who.Responses, "401")
	assert.NotContains(t, who.Responses, "403", "no scopes, no 403")
	health := doc.Paths["/health"]["get"]
	assert.Empty(t, health.Security)
	assert.NotContains(t, health.Responses, "401")
	assert.Contains(t, resp.Body.String(), `"security":[]`, "a public operation says so explicitly")
}

func TestHumaDenyByDefault(t *testing.T) {
	t.Parallel()
	authn, err := auth.New(auth.Config{})
	require.NoError(t, err)
	_, api := humatest.New(t, huma.DefaultConfig("Test", "1.0.0"))
	api.UseMiddleware(authn.Huma(api))
	assert.PanicsWithValue(t,
		"auth: operation GET /forgotten (forgotten) declares no security: add auth.Require(scopes...) or auth.Public() to it or to its group",
		func() {
			huma.Register(api, huma.Operation{OperationID: "forgotten", Method: "GET", Path: "/forgotten"}, who)
		})
	for i, mods := range [][]func(*huma.Operation){
		{auth.Require("x"), auth.Public()}, {auth.Public(), auth.Require()}, {auth.Require(), auth.Public()},
	} {
		id := fmt.Sprintf("both%d", i)
		assert.PanicsWithValue(t,
			"auth: operation GET /"+id+" ("+id+") is declared both auth.Public() and auth.Require(...)",
			func() { register(api, huma.Operation{OperationID: id, Method: "GET", Path: "/" + id}, mods...) })
	}

	// Operations registered before the middleware are checked when it is installed.
	_, api2 := humatest.New(t, huma.DefaultConfig("Test", "1.0.0"))
	huma.Register(api2, huma.Operation{OperationID: "early", Method: "GET", Path: "/early"}, who)
	assert.PanicsWithValue(t,
		"auth: operation GET /early (early) declares no security: add auth.Require(scopes...) or auth.Public() to it or to its group",
		func() { authn.Huma(api2) })

	// A hidden operation skips OpenAPI and its hook; the middleware still demands a credential.
	huma.Register(api, huma.Operation{OperationID: "hidden", Method: "GET", Path: "/hidden", Hidden: true}, who)
	assert.Equal(t, 401, api.Get("/hidden").Code)
}

// failThrottle refuses a client or key after max failures: a small, real Throttle.
type failThrottle struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string]int
}

func newFailThrottle(max int, window time.Duration) *failThrottle {
	return &failThrottle{max: max, window: window, fails: map[string]int{}}
}

func (f *failThrottle) Failed(_ context.Context, client, keyID string) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	throttled := false
	for _, k := range []string{"addr:" + client, "key:" + keyID} {
		if k == "key:" {
			continue
		}
		if f.fails[k] >= f.max {
			throttled = true
			continue // a refused attempt spends nothing
		}
		f.fails[k]++
	}
	return f.window, throttled
}

func (f *failThrottle) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fails[key]
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	th := newFailThrottle(3, 90*time.Second)
	f := newFixture(t, auth.Config{Throttle: th, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	bad := "X-API-Key: " + typo(f.reader)
	// humatest requests come from 127.0.0.1, a trusted proxy here, so X-Forwarded-For names the client.
	attacker := "X-Forwarded-For: 203.0.113.9"
	for range 3 {
		require.Equal(t, 401, f.api.Get("/v1/read", bad, attacker).Code)
	}
	assert.Equal(t, 3, th.count("addr:203.0.113.9"))
	resp := f.api.Get("/v1/read", bad, attacker)
	require.Equal(t, 429, resp.Code, "the next wrong key from a throttled address is refused")
	assert.Equal(t, "90", resp.Header().Get("Retry-After"))
	assert.Equal(t, "application/problem+json", resp.Header().Get("Content-Type"))
	assert.Empty(t, resp.Header().Get("WWW-Authenticate"), "a 429 says nothing about the credential")

	// A valid credential from the same address is served: sharing an address with a
	// guesser (NAT, a proxy, a CI runner) must not lock a paying consumer out.
	require.Equal(t, 200, f.api.Get("/v1/read", "X-API-Key: "+f.reader, attacker).Code)
	require.Equal(t, 200, f.api.Get("/v1/read", "Authorization: Bearer "+f.token, attacker).Code)
	// ...and does not reset the count.
	require.Equal(t, 429, f.api.Get("/v1/read", bad, attacker).Code)
	// A throttled address gets the same answer for an unknown key and a bad token, so the
	// answer tells nothing about which keys exist.
	require.Equal(t, 429, f.api.Get("/v1/read", "X-API-Key: "+forgeID(t, f.reader), attacker).Code)
	require.Equal(t, 429, f.api.Get("/v1/read", "Authorization: Bearer "+f.token[:len(f.token)-4]+"AAAA", attacker).Code)

	// The victim key keeps working for everyone else.
	require.Equal(t, 200, f.api.Get("/v1/read", "X-API-Key: "+f.reader, "X-Forwarded-For: 198.51.100.7").Code)
	// Missing credentials and missing scopes are not guessing: they do not count.
	require.Equal(t, 401, f.api.Get("/v1/read", "X-Forwarded-For: 198.51.100.7").Code)
	require.Equal(t, 403, f.api.Post("/v1/write", "X-API-Key: "+f.reader, "X-Forwarded-For: 198.51.100.7").Code)
	assert.Zero(t, th.count("addr:198.51.100.7"))

	// A client-written X-Forwarded-For line cannot hide the one the proxy added after it.
	for range 3 {
		r := httptest.NewRequest("GET", "/v1/read", nil)
		r.RemoteAddr = "127.0.0.1:4321"
		r.Header.Set("X-API-Key", strings.TrimPrefix(bad, "X-API-Key: "))
		r.Header.Add("X-Forwarded-For", "192.0.2.50")
		r.Header.Add("X-Forwarded-For", "203.0.113.77")
		w := httptest.NewRecorder()
		f.api.Adapter().ServeHTTP(w, r)
		require.Equal(t, http.StatusUnauthorized, w.Code)
	}
	assert.Equal(t, 3, th.count("addr:203.0.113.77"))
	assert.Zero(t, th.count("addr:192.0.2.50"))
}

// A key hammered with wrong secrets from many addresses is throttled on its own; its
// holder, presenting the right secret, is still served.
func TestThrottlePerKey(t *testing.T) {
	t.Parallel()
	th := newFailThrottle(3, time.Minute)
	f := newFixture(t, auth.Config{Throttle: th, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	pk, err := auth.ParseKey(f.reader)
	require.NoError(t, err)
	wrong := "X-API-Key: " + forgeSecret(t, f.reader)
	for i := range 3 {
		require.Equal(t, 401, f.api.Get("/v1/read", wrong, fmt.Sprintf("X-Forwarded-For: 203.0.113.%d", i)).Code)
	}
	assert.Equal(t, 3, th.count("key:"+pk.ID))
	assert.Equal(t, 429, f.api.Get("/v1/read", wrong, "X-Forwarded-For: 203.0.113.200").Code, "a fresh address does not help")
	assert.Equal(t, 200, f.api.Get("/v1/read", "X-API-Key: "+f.reader, "X-Forwarded-For: 203.0.113.200").Code)

	// Unknown key ids and typos count against the address only: there is no key to protect.
	require.Equal(t, 401, f.api.Get("/v1/read", "X-API-Key: "+forgeID(t, f.reader), "X-Forwarded-For: 192.0.2.1").Code)
	require.Equal(t, 401, f.api.Get("/v1/read", "X-API-Key: "+typo(f.reader), "X-Forwarded-For: 192.0.2.1").Code)
	assert.Equal(t, 2, th.count("addr:192.0.2.1"))
	assert.Equal(t, 3, th.count("key:"+pk.ID))
}

func TestOnFailureNeverSeesSecrets(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var logged []string
	f := newFixture(t, auth.Config{OnFailure: func(_ context.Context, err error) {
		mu.Lock()
		logged = append(logged, err.Error())
		mu.Unlock()
	}})
	wrong := f.reader[:len(f.reader)-8] + strings.Repeat("A", 8)
	f.api.Get("/v1/read", "X-API-Key: "+wrong)
	f.api.Get("/v1/read", "X-API-Key: "+f.reader[:30])
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, logged, 2)
	for _, l := range logged {
		assert.NotContains(t, l, f.reader[20:len(f.reader)-4])
		assert.NotContains(t, l, wrong[20:len(wrong)-4])
	}
}
