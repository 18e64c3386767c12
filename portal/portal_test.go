package portal_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/portal"
	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

const secret = auth.Secret("0123456789abcdef0123456789abcdef")

type fixture struct {
	api   humatest.TestAPI
	keys  *auth.Keys
	store *auth.MemoryKeyStore
	usage *metering.Store
	clock *tollgatetest.Clock
	alice string // alice's key, scopes read write
	bob   string // bob's key
	admin string
}

func newFixture(t *testing.T, mod func(*portal.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{store: auth.NewMemoryKeyStore(), clock: tollgatetest.NewClock(time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC))}
	var err error
	f.keys, err = auth.NewKeys(auth.KeyConfig{Store: f.store, Secret: secret, Now: f.clock.Now})
	require.NoError(t, err)
	f.usage, err = metering.NewStore(metering.StoreConfig{})
	require.NoError(t, err)
	issue := func(consumer string, scopes ...string) string {
		k, err := f.keys.Create(ctx, auth.KeySpec{Consumer: consumer, Scopes: scopes})
		require.NoError(t, err)
		return k.Key.Reveal()
	}
	f.alice = issue("alice", "read", "write")
	f.bob = issue("bob", "read")
	f.admin = issue("ops", "tollgate:admin")

	authn, err := auth.New(auth.Config{Keys: f.keys, Now: f.clock.Now})
	require.NoError(t, err)
	cfg := portal.Config{Keys: f.keys, Usage: f.usage, Now: f.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	p, err := portal.New(cfg)
	require.NoError(t, err)
	_, f.api = humatest.New(t, huma.DefaultConfig("Test", "1.0.0"))
	f.api.UseMiddleware(authn.Huma(f.api))
	p.RegisterKeys(f.api, auth.Require())
	p.RegisterUsage(f.api, auth.Require())
	p.RegisterAdmin(f.api)
	p.RegisterSignup(f.api)
	huma.Get(f.api, "/whoami", func(ctx context.Context, _ *struct{}) (*struct{ Body string }, error) {
		return &struct{ Body string }{Body: auth.FromContext(ctx).Consumer}, nil
	}, auth.Require())
	return f
}

func key(k string) string { return "X-API-Key: " + k }

func decode[T any](t *testing.T, r *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &v), r.Body.String())
	return v
}

type keyList struct {
	Keys []struct {
		ID, Hint, Status string
		Scopes           []string
	}
	AllowedScopes []string `json:"allowed_scopes"`
}

type issued struct {
	ID, Hint, Status, Key string
	Scopes                []string
}

func TestKeyLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	list := decode[keyList](t, f.api.Get("/me/keys", key(f.alice)))
	require.Len(t, list.Keys, 1)
	assert.Equal(t, []string{"read", "write"}, list.AllowedScopes, "a consumer grants at most what it holds")
	assert.NotContains(t, list.Keys[0].Hint, f.alice[20:len(f.alice)-4], "hints never carry the secret")

	resp := f.api.Post("/me/keys", key(f.alice), map[string]any{"scopes": []string{"read"}})
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	created := decode[issued](t, resp)
	assert.True(t, strings.HasPrefix(created.Key, "tg_live_"))
	assert.Equal(t, http.StatusOK, f.api.Get("/whoami", key(created.Key)).Code, "the new key works")
	for _, k := range decode[keyList](t, f.api.Get("/me/keys", key(f.alice))).Keys {
		assert.NotContains(t, k.Hint, created.Key[20:len(created.Key)-4], "the secret is shown once, then never again")
	}

	resp = f.api.Post("/me/keys/"+created.ID+"/rotate", key(f.alice), map[string]any{"grace_seconds": 60})
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	rotated := decode[issued](t, resp)
	assert.Equal(t, http.StatusOK, f.api.Get("/whoami", key(created.Key)).Code, "the old key works through the grace")
	f.clock.Advance(61 * time.Second)
	assert.Equal(t, http.StatusUnauthorized, f.api.Get("/whoami", key(created.Key)).Code, "and not after")
	assert.Equal(t, http.StatusOK, f.api.Get("/whoami", key(rotated.Key)).Code)

	require.Equal(t, http.StatusNoContent, f.api.Delete("/me/keys/"+rotated.ID, key(f.alice)).Code)
	assert.Equal(t, http.StatusUnauthorized, f.api.Get("/whoami", key(rotated.Key)).Code, "a revoked key is refused at once here")
	statuses := map[string]string{}
	for _, k := range decode[keyList](t, f.api.Get("/me/keys", key(f.alice))).Keys {
		statuses[k.ID] = k.Status
	}
	assert.Equal(t, "revoked", statuses[rotated.ID])
	assert.Equal(t, "expired", statuses[created.ID])
}

// Another replica, with its own verified-key cache, stops accepting a revoked key within
// CacheTTL.
func TestRevocationReachesOtherReplicasWithinCacheTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	other, err := auth.NewKeys(auth.KeyConfig{Store: f.store, Secret: secret, Now: f.clock.Now, CacheTTL: 30 * time.Second})
	require.NoError(t, err)
	ctx := context.Background()
	created := decode[issued](t, f.api.Post("/me/keys", key(f.alice), map[string]any{"scopes": []string{"read"}}))
	_, err = other.Verify(ctx, created.Key) // warm the other replica's cache
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, f.api.Delete("/me/keys/"+created.ID, key(f.alice)).Code)
	f.clock.Advance(29 * time.Second)
	_, err = other.Verify(ctx, created.Key)
	assert.NoError(t, err, "within CacheTTL the other replica may still accept it")
	f.clock.Advance(2 * time.Second)
	_, err = other.Verify(ctx, created.Key)
	assert.ErrorIs(t, err, auth.ErrUnauthenticated, "past CacheTTL it refuses it")
}

// A consumer can never see or touch another consumer's keys: every operation with bob's
// key id answers 404 to alice, as for an id that does not exist.
func TestConsumersAreIsolated(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	bobs := decode[keyList](t, f.api.Get("/me/keys", key(f.bob))).Keys[0].ID
	for _, id := range []string{bobs, "doesnotexist"} {
		assert.Equal(t, http.StatusNotFound, f.api.Delete("/me/keys/"+id, key(f.alice)).Code, id)
		assert.Equal(t, http.StatusNotFound, f.api.Post("/me/keys/"+id+"/rotate", key(f.alice), map[string]any{}).Code, id)
	}
	for _, k := range decode[keyList](t, f.api.Get("/me/keys", key(f.alice))).Keys {
		assert.NotEqual(t, bobs, k.ID)
	}
	assert.Equal(t, http.StatusOK, f.api.Get("/whoami", key(f.bob)).Code, "bob's key untouched")
	// Usage is the caller's own.
	require.NoError(t, f.usage.Write(context.Background(), []metering.Event{{ID: metering.NewID(f.clock.Now()), Time: f.clock.Now(), Consumer: "bob", Operation: "op", Status: 200, Units: map[string]int64{"calls": 7}}}))
	days := decode[struct{ Meters []string }](t, f.api.Get("/me/usage/days", key(f.alice)))
	assert.Empty(t, days.Meters)
	// The admin operations need the admin scope, which consumers cannot grant themselves.
	assert.Equal(t, http.StatusForbidden, f.api.Post("/admin/consumers/bob/revoke-keys", key(f.alice)).Code)
	assert.Equal(t, http.StatusUnprocessableEntity, f.api.Post("/me/keys", key(f.admin), map[string]any{"scopes": []string{"tollgate:admin"}}).Code)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *portal.Config) { c.MaxKeys = 2 })
	for name, tc := range map[string]struct {
		method, path string
		body         any
		want         int
	}{
		"scope outside":      {http.MethodPost, "/me/keys", map[string]any{"scopes": []string{"admin:everything"}}, 422},
		"no scopes":          {http.MethodPost, "/me/keys", map[string]any{"scopes": []string{}}, 422},
		"grace too long":     {http.MethodPost, "/me/keys/x/rotate", map[string]any{"grace_seconds": 30 * 24 * 3600}, 422},
		"range too long":     {http.MethodGet, "/me/usage/days?from=2025-01-01&to=2026-03-20", nil, 422},
		"range reversed":     {http.MethodGet, "/me/usage/days?from=2026-03-20&to=2026-03-01", nil, 422},
		"not a date":         {http.MethodGet, "/me/usage/days?from=2026-13-45", nil, 422},
		"bad id":             {http.MethodDelete, "/me/keys/no-such_key", nil, 422},
		"unknown field":      {http.MethodPost, "/me/keys", map[string]any{"scopes": []string{"read"}, "admin": true}, 422},
		"expiry out of band": {http.MethodPost, "/me/keys", map[string]any{"scopes": []string{"read"}, "expires_in_days": -1}, 422},
	} {
		t.Run(name, func(t *testing.T) {
			var resp *httptest.ResponseRecorder
			args := []any{key(f.alice)}
			if tc.body != nil {
				args = append(args, tc.body)
			}
			resp = f.api.Do(tc.method, tc.path, args...)
			assert.Equal(t, tc.want, resp.Code, resp.Body.String())
			if resp.Code >= 400 {
				assert.Equal(t, "application/problem+json", resp.Header().Get("Content-Type"))
			}
		})
	}
	require.Equal(t, http.StatusCreated, f.api.Post("/me/keys", key(f.alice), map[string]any{"scopes": []string{"read"}}).Code)
	assert.Equal(t, http.StatusConflict, f.api.Post("/me/keys", key(f.alice), map[string]any{"scopes": []string{"read"}}).Code, "MaxKeys live keys")
}

func TestUsageDays(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	for i, n := range []int64{3, 0, 5} {
		if n == 0 {
			continue
		}
		at := f.clock.Now().AddDate(0, 0, -2+i)
		require.NoError(t, f.usage.Write(ctx, []metering.Event{{ID: metering.NewID(at), Time: at, Consumer: "alice", Operation: "op", Status: 200, Units: map[string]int64{"deliveries": n, "sms": 1}}}))
	}
	out := decode[struct {
		Meters []string
		Days   []struct {
			Date  string
			Usage map[string]int64
		}
	}](t, f.api.Get("/me/usage/days", key(f.alice)))
	assert.Equal(t, []string{"deliveries", "sms"}, out.Meters)
	require.Len(t, out.Days, 30, "the last 30 days by default")
	assert.Equal(t, "2026-03-20", out.Days[29].Date)
	assert.Equal(t, map[string]int64{"deliveries": 5, "sms": 1}, out.Days[29].Usage)
	assert.Equal(t, map[string]int64{"deliveries": 0, "sms": 0}, out.Days[28].Usage, "days without usage are zeros, for charts")
	assert.Equal(t, int64(3), out.Days[27].Usage["deliveries"])

	one := decode[struct {
		Days []struct{ Usage map[string]int64 }
	}](t, f.api.Get("/me/usage/days?from=2026-03-18&to=2026-03-20&meter=sms", key(f.alice)))
	require.Len(t, one.Days, 3)
	assert.Equal(t, map[string]int64{"sms": 1}, one.Days[0].Usage)
}

func TestAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	resp := f.api.Post("/admin/consumers", key(f.admin), map[string]any{"consumer": "carol", "scopes": []string{"read"}})
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	carol := decode[struct{ Key issued }](t, resp).Key.Key
	assert.Equal(t, http.StatusOK, f.api.Get("/whoami", key(carol)).Code)
	assert.Equal(t, http.StatusConflict, f.api.Post("/admin/consumers", key(f.admin), map[string]any{"consumer": "carol", "scopes": []string{"read"}}).Code)
	assert.Equal(t, http.StatusUnprocessableEntity, f.api.Post("/admin/consumers", key(f.admin), map[string]any{"consumer": "dave", "scopes": []string{"read"}, "plan": "gold"}).Code, "no billing")
	assert.Equal(t, http.StatusNotFound, f.api.Put("/admin/consumers/carol/plan", key(f.admin), map[string]any{"plan": "gold"}).Code)

	keys := decode[keyList](t, f.api.Get("/admin/consumers/alice/keys", key(f.admin)))
	assert.Len(t, keys.Keys, 1)
	revoked := decode[struct{ Revoked int }](t, f.api.Post("/admin/consumers/alice/revoke-keys", key(f.admin)))
	assert.Equal(t, 1, revoked.Revoked)
	assert.Equal(t, http.StatusUnauthorized, f.api.Get("/whoami", key(f.alice)).Code)
	assert.Equal(t, http.StatusOK, f.api.Get("/admin/consumers/bob/usage/days", key(f.admin)).Code)
}

func TestSignup(t *testing.T) {
	t.Parallel()
	off := newFixture(t, nil)
	assert.Equal(t, http.StatusNotFound, off.api.Post("/signup", map[string]any{"email": "a@example.com"}).Code, "off by default")

	limits, err := ratelimit.New(ratelimit.Config{})
	require.NoError(t, err)
	throttle, err := ratelimit.NewAuthThrottle(ratelimit.AuthThrottleConfig{Limiter: limits, Rate: ratelimit.PerHour(10).WithBurst(2)})
	require.NoError(t, err)
	invitations := map[string]string{"inv-1": "dana"}
	f := newFixture(t, func(c *portal.Config) {
		c.Signup = &portal.SignupConfig{
			Scopes: []string{"read"}, Limiter: limits, PerAddress: ratelimit.PerHour(3), Throttle: throttle,
			Invitation: func(_ context.Context, token string) (string, error) {
				if c, ok := invitations[token]; ok {
					return c, nil
				}
				return "", context.Canceled
			},
		}
	})
	resp := f.api.Post("/signup", map[string]any{"email": "dana@example.com", "invitation": "inv-1"})
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	out := decode[struct {
		Consumer string
		Key      issued
	}](t, resp)
	assert.Equal(t, "dana", out.Consumer)
	assert.Equal(t, http.StatusOK, f.api.Get("/whoami", key(out.Key.Key)).Code)
	assert.Equal(t, http.StatusForbidden, f.api.Post("/signup", map[string]any{"email": "x@example.com", "invitation": "inv-1"}).Code, "an invitation is used once")
	assert.Equal(t, http.StatusForbidden, f.api.Post("/signup", map[string]any{"email": "x@example.com", "invitation": "guess"}).Code)
	resp = f.api.Post("/signup", map[string]any{"email": "x@example.com", "invitation": "guess2"})
	assert.Equal(t, http.StatusTooManyRequests, resp.Code, "the per-address limit or the failed-auth throttle stops guessing")
	assert.NotEmpty(t, resp.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusUnprocessableEntity, f.api.Post("/signup", map[string]any{"email": "not an address"}).Code)

	_, err = portal.New(portal.Config{Keys: f.keys, Usage: f.usage, Signup: &portal.SignupConfig{Scopes: []string{"read"}}})
	assert.Error(t, err, "signup needs a per-address limit")
}

func TestPage(t *testing.T) {
	t.Parallel()
	h := portal.Page("/portal", portal.PageConfig{API: "/v1", Billing: true})
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	w := get("/portal/")
	require.Equal(t, http.StatusOK, w.Code)
	csp := w.Header().Get("Content-Security-Policy")
	assert.Contains(t, csp, "script-src 'self'")
	assert.Contains(t, csp, "frame-ancestors 'none'")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	html := w.Body.String()
	assert.Contains(t, html, `data-api="/v1"`)
	assert.Contains(t, html, `<script src="/portal/app.js" defer></script>`)
	assert.Equal(t, 1, strings.Count(html, "<script"), "no inline script: the CSP would refuse it")
	assert.Contains(t, html, `<label for="apikey">`)
	assert.Equal(t, "text/javascript; charset=utf-8", get("/portal/app.js").Header().Get("Content-Type"))
	assert.NotContains(t, get("/portal/app.js").Body.String(), "localStorage", "the key is never stored")
	assert.Equal(t, http.StatusMovedPermanently, get("/portal").Code)
	assert.Equal(t, http.StatusNotFound, get("/portal/other").Code)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/portal/", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
}
