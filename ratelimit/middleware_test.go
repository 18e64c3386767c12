package ratelimit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/ratelimit/ratelimittest"
)

// withPrincipal stands in for the authentication middleware: X-Consumer and X-Plan become
// the request's principal.
func withPrincipal(ctx huma.Context, next func(huma.Context)) {
	if c := ctx.Header("X-Consumer"); c != "" {
		p := &auth.Principal{Consumer: c, Plan: ctx.Header("X-Plan")}
		ctx = huma.WithContext(ctx, auth.NewContext(ctx.Context(), p))
	}
	next(ctx)
}

type out struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

func handler(context.Context, *struct{}) (*out, error) {
	o := &out{}
	o.Body.OK = true
	return o, nil
}

func newAPI(t *testing.T, cfg ratelimit.Config) (humatest.TestAPI, *ratelimittest.Clock) {
	t.Helper()
	clock := ratelimittest.NewClock(time.Date(2030, 3, 14, 10, 0, 0, 0, time.UTC))
	cfg.Now = clock.Now
	l, err := ratelimit.New(cfg)
	require.NoError(t, err)
	_, api := humatest.New(t)
	api.UseMiddleware(withPrincipal, l.Huma(api))
	return api, clock
}

func problemBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), rec.Body.String())
	return m
}

func TestHumaBurstReaches429WithHeaders(t *testing.T) {
	t.Parallel()
	api, clock := newAPI(t, ratelimit.Config{})
	huma.Register(api, huma.Operation{OperationID: "get", Method: http.MethodGet, Path: "/x"}, handler)
	op := huma.Operation{OperationID: "burst", Method: http.MethodGet, Path: "/burst"}
	ratelimit.Limit(ratelimit.PerMinute(3))(&op)
	huma.Register(api, op, handler)

	for _, want := range []string{`"per-minute";r=2;t=20`, `"per-minute";r=1;t=40`, `"per-minute";r=0;t=60`} {
		rec := api.Get("/burst", "X-Consumer: acme")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Equal(t, `"per-minute";q=3;w=60`, rec.Header().Get("RateLimit-Policy"))
		assert.Equal(t, want, rec.Header().Get("RateLimit"))
	}
	rec := api.Get("/burst", "X-Consumer: acme")
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "20", rec.Header().Get("Retry-After"))
	assert.Equal(t, `"per-minute";r=0;t=60`, rec.Header().Get("RateLimit"))
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	body := problemBody(t, rec)
	assert.Equal(t, []any{"per-minute"}, body["violated-policies"])
	assert.Equal(t, float64(429), body["status"])

	assert.Equal(t, http.StatusOK, api.Get("/burst", "X-Consumer: other").Code, "consumers are isolated")
	assert.Equal(t, http.StatusOK, api.Get("/x", "X-Consumer: acme").Code, "unlimited operation")
	assert.Empty(t, api.Get("/x", "X-Consumer: acme").Header().Get("RateLimit"))
	clock.Advance(20 * time.Second)
	assert.Equal(t, http.StatusOK, api.Get("/burst", "X-Consumer: acme").Code, "one unit refilled")
}

func TestHumaQuotaPerPlan(t *testing.T) {
	t.Parallel()
	api, clock := newAPI(t, ratelimit.Config{Policies: []ratelimit.Policy{{
		Name:  "daily",
		Rate:  ratelimit.Daily(2),
		Plans: map[string]ratelimit.Rate{"pro": ratelimit.Daily(4), "internal": {}},
	}}})
	huma.Register(api, huma.Operation{OperationID: "get", Method: http.MethodGet, Path: "/x"}, handler)

	for _, tc := range []struct {
		consumer, plan string
		allowed        int
	}{{"a", "free", 2}, {"b", "pro", 4}, {"c", "internal", 10}} {
		t.Run(tc.plan, func(t *testing.T) {
			n := 0
			for range 10 {
				rec := api.Get("/x", "X-Consumer: "+tc.consumer, "X-Plan: "+tc.plan)
				if rec.Code == http.StatusOK {
					n++
					continue
				}
				require.Equal(t, http.StatusTooManyRequests, rec.Code)
				body := problemBody(t, rec)
				assert.Equal(t, ratelimit.TypeQuotaExceeded, body["type"])
				assert.Equal(t, "Quota exceeded", body["title"])
				assert.Equal(t, []any{"daily"}, body["violated-policies"])
				assert.Equal(t, itoa64(14*60*60), rec.Header().Get("Retry-After"), "until midnight")
			}
			assert.Equal(t, tc.allowed, n)
		})
	}
	clock.Advance(14 * time.Hour)
	assert.Equal(t, http.StatusOK, api.Get("/x", "X-Consumer: a", "X-Plan: free").Code, "the next day")
}

func TestHumaRateBeforeQuotaAndEveryPolicyReported(t *testing.T) {
	t.Parallel()
	api, _ := newAPI(t, ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "daily", Rate: ratelimit.Daily(5)},
		{Name: "burst", Rate: ratelimit.PerMinute(60).WithBurst(2)},
	}, LegacyHeaders: true})
	huma.Register(api, huma.Operation{OperationID: "get", Method: http.MethodGet, Path: "/x"}, handler)
	for range 2 {
		require.Equal(t, http.StatusOK, api.Get("/x", "X-Consumer: a").Code)
	}
	rec := api.Get("/x", "X-Consumer: a")
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, `"burst";r=0;t=2, "daily";r=3;t=50400`, rec.Header().Get("RateLimit"),
		"smoothing first; the refused burst did not spend the daily quota")
	assert.Equal(t, `"burst";q=60;w=60, "daily";q=5;w=86400`, rec.Header().Get("RateLimit-Policy"))
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, "0", rec.Header().Get("X-RateLimit-Remaining"))
	assert.Equal(t, "60", rec.Header().Get("X-RateLimit-Limit"))
	body := problemBody(t, rec)
	assert.Nil(t, body["type"], "a rate refusal is about:blank, not quota-exceeded")
}

func TestHumaCost(t *testing.T) {
	t.Parallel()
	api, _ := newAPI(t, ratelimit.Config{})
	op := huma.Operation{OperationID: "batch", Method: http.MethodGet, Path: "/batch"}
	ratelimit.Limit(ratelimit.PerMinute(10))(&op)
	ratelimit.Cost(4)(&op)
	huma.Register(api, op, handler)
	assert.Equal(t, http.StatusOK, api.Get("/batch", "X-Consumer: a").Code)
	assert.Equal(t, http.StatusOK, api.Get("/batch", "X-Consumer: a").Code)
	rec := api.Get("/batch", "X-Consumer: a")
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "4+4+4 > 10")
	assert.Equal(t, `"per-minute";r=2;t=48`, rec.Header().Get("RateLimit"))
}

func TestHumaOpenAPIDocumentsLimits(t *testing.T) {
	t.Parallel()
	api, _ := newAPI(t, ratelimit.Config{})
	grp := huma.NewGroup(api, "/v1")
	grp.UseSimpleModifier(ratelimit.Limit(ratelimit.PerSecond(5)))
	huma.Register(grp, huma.Operation{OperationID: "grouped", Method: http.MethodGet, Path: "/g"}, handler)
	op := huma.Operation{OperationID: "inline", Method: http.MethodGet, Path: "/i"}
	ratelimit.Quota(ratelimit.Monthly(100))(&op)
	huma.Register(api, op, handler)

	for _, path := range []string{"/v1/g", "/i"} {
		o := api.OpenAPI().Paths[path].Get
		require.NotNil(t, o, path)
		require.Contains(t, o.Responses, "429", path)
		require.Contains(t, o.Responses, "503", path)
		assert.Contains(t, o.Responses["429"].Headers, "Retry-After", path)
		assert.Contains(t, o.Responses["429"].Headers, "RateLimit", path)
		assert.NotEmpty(t, o.Responses["429"].Content, "429 carries the error schema: %s", path)
		assert.Contains(t, o.Responses["200"].Headers, "RateLimit", path)
		assert.Contains(t, o.Responses["200"].Headers, "RateLimit-Policy", path)
	}
	// And the middleware enforces what is documented.
	for range 5 {
		require.Equal(t, http.StatusOK, api.Get("/v1/g").Code)
	}
	assert.Equal(t, http.StatusTooManyRequests, api.Get("/v1/g").Code)
}

func TestHumaInvalidModifierRefusedAtRegistration(t *testing.T) {
	t.Parallel()
	api, _ := newAPI(t, ratelimit.Config{})
	op := huma.Operation{OperationID: "bad", Method: http.MethodGet, Path: "/bad"}
	ratelimit.Limit(ratelimit.Daily(5))(&op) // a quota passed to Limit
	assert.PanicsWithValue(t,
		"ratelimit: operation GET /bad (bad): ratelimit: Limit(daily): use Quota for calendar quotas",
		func() { huma.Register(api, op, handler) })
}

func TestHumaAnonymousByClientIP(t *testing.T) {
	t.Parallel()
	api, _ := newAPI(t, ratelimit.Config{
		Policies:       []ratelimit.Policy{{Rate: ratelimit.PerMinute(1)}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	huma.Register(api, huma.Operation{OperationID: "get", Method: http.MethodGet, Path: "/x"}, handler)
	// humatest requests come from 127.0.0.1, a trusted proxy here: X-Forwarded-For decides.
	assert.Equal(t, http.StatusOK, api.Get("/x", "X-Forwarded-For: 203.0.113.7").Code)
	assert.Equal(t, http.StatusTooManyRequests, api.Get("/x", "X-Forwarded-For: 203.0.113.7").Code)
	assert.Equal(t, http.StatusOK, api.Get("/x", "X-Forwarded-For: 203.0.113.8").Code)
}

func TestHandlerIgnoresForwardedForByDefault(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{{Rate: ratelimit.PerMinute(1)}}})
	require.NoError(t, err)
	h := l.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	do := func(xff string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set("X-Forwarded-For", xff)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	assert.Equal(t, http.StatusNoContent, do("203.0.113.1").Code)
	rec := do("203.0.113.2")
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "a forged X-Forwarded-For does not buy a new budget")
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.Equal(t, []string{"60"}, rec.Header().Values("Retry-After"), "set once")
	assert.True(t, strings.HasPrefix(rec.Header().Get("RateLimit"), `"per-minute";r=0`))
}

func TestRoutePolicies(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{})
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux := http.NewServeMux()
	mux.Handle("GET /a", l.Route("a", ratelimit.Policy{Rate: ratelimit.PerHour(1)})(ok))
	mux.Handle("GET /b", l.Route("b", ratelimit.Policy{Rate: ratelimit.PerHour(1)})(ok))
	get := func(path string) int {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, path, nil)
		mux.ServeHTTP(rec, r.WithContext(auth.NewContext(r.Context(), &auth.Principal{Consumer: "acme"})))
		return rec.Code
	}
	assert.Equal(t, http.StatusNoContent, get("/a"))
	assert.Equal(t, http.StatusTooManyRequests, get("/a"))
	assert.Equal(t, http.StatusNoContent, get("/b"), "each route counts separately")
	assert.PanicsWithValue(t, `ratelimit: route "bad": ratelimit: policy "": ratelimit: invalid rate: quota -1 must be positive`, func() {
		l.Route("bad", ratelimit.Policy{Rate: ratelimit.Rate{Quota: -1}})
	}, "a policy mistake stops start-up instead of failing requests")
}

func TestWithCostOverridesOperationCost(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{{Rate: ratelimit.PerHour(10)}}})
	require.NoError(t, err)
	do := costly(l)
	assert.Equal(t, http.StatusOK, do(9).Code)
	assert.Equal(t, http.StatusTooManyRequests, do(2).Code)
	rec := do(0)
	assert.Equal(t, http.StatusOK, rec.Code, "a free request passes and reports")
	assert.Contains(t, rec.Header().Get("RateLimit"), "r=1")
}

// failingStore cannot decide.
type failingStore struct{ err error }

func (f failingStore) Take(context.Context, string, ratelimit.Rate, int) (ratelimit.Result, error) {
	return ratelimit.Result{}, f.err
}

func TestStoreFailureIs503WithRetryAfter(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{
		Store:    failingStore{&ratelimit.UnavailableError{RetryAfter: 3 * time.Second}},
		Policies: []ratelimit.Policy{{Rate: ratelimit.PerHour(10)}},
	})
	require.NoError(t, err)
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler reached") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "3", rec.Header().Get("Retry-After"))

	_, api := humatest.New(t)
	api.UseMiddleware(l.Huma(api))
	huma.Register(api, huma.Operation{OperationID: "get", Method: http.MethodGet, Path: "/x"}, handler)
	rec = api.Get("/x")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "3", rec.Header().Get("Retry-After"))
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]ratelimit.Config{
		"bad rate":        {Policies: []ratelimit.Policy{{Rate: ratelimit.Rate{Quota: 1}}}},
		"bad plan rate":   {Policies: []ratelimit.Policy{{Rate: ratelimit.PerSecond(1), Plans: map[string]ratelimit.Rate{"x": {Quota: -1}}}}},
		"bad name":        {Policies: []ratelimit.Policy{{Name: "é", Rate: ratelimit.PerSecond(1)}}},
		"bad status":      {QuotaStatus: 200},
		"negative wait":   {UnavailableRetryAfter: -time.Second},
		"invalid network": {TrustedProxies: []netip.Prefix{{}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ratelimit.New(cfg)
			assert.Error(t, err)
		})
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func TestCostAboveCapacityIsNotRetryable(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "burst", Rate: ratelimit.PerMinute(600).WithBurst(10)},
		{Name: "day", Rate: ratelimit.Daily(100)},
	}})
	require.NoError(t, err)
	do := costly(l)
	rec := do(11)
	require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	assert.Empty(t, rec.Header().Get("Retry-After"))
	assert.Equal(t, "cost 11 exceeds the capacity 10 of policy burst", problemBody(t, rec)["detail"])

	rec = do(10)
	require.Equal(t, http.StatusOK, rec.Code, "the refused request spent nothing")
	assert.Contains(t, rec.Header().Get("RateLimit"), `"day";r=90`)

	_, err = l.Check(context.Background(), &ratelimit.Request{}, 11)
	var ce *ratelimit.CostError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ratelimit.CostError{Policy: "burst", Cost: 11, Capacity: 10}, *ce)
	assert.ErrorIs(t, err, ratelimit.ErrCostExceedsCapacity)
}

// costly returns a function that sends a request of the given cost through l.Handler.
func costly(l *ratelimit.Limiter) func(cost int) *httptest.ResponseRecorder {
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	return func(cost int) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r.WithContext(ratelimit.WithCost(r.Context(), cost)))
		return rec
	}
}
