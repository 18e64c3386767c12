package ratelimit_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/ratelimit"
)

// huma.Get sets Metadata on every operation, and huma copies group operations (sharing the
// map) and runs group modifiers more than once: the policy must still apply exactly once.
func TestHumaGroupModifierWithConvenienceRegistrationAppliesOnce(t *testing.T) {
	t.Parallel()
	api, _ := newAPI(t, ratelimit.Config{})
	grp := huma.NewGroup(api, "/v1")
	grp.UseSimpleModifier(ratelimit.Limit(ratelimit.PerMinute(10)))
	huma.Get(grp, "/g", handler)

	admitted := 0
	for range 20 {
		rec := api.Get("/v1/g", "X-Consumer: acme")
		if rec.Code == http.StatusOK {
			admitted++
			assert.Equal(t, `"per-minute";q=10;w=60`, rec.Header().Get("RateLimit-Policy"))
		}
	}
	assert.Equal(t, 10, admitted)
}

func TestHumaLimitOnCopiedOperationDoesNotLeak(t *testing.T) {
	t.Parallel()
	api, _ := newAPI(t, ratelimit.Config{})
	template := huma.Operation{Method: http.MethodGet, Metadata: map[string]any{"team": "core"}}
	limited, free := template, template
	limited.OperationID, limited.Path = "limited", "/limited"
	free.OperationID, free.Path = "free", "/free"
	ratelimit.Limit(ratelimit.PerMinute(1))(&limited)
	huma.Register(api, limited, handler)
	huma.Register(api, free, handler)

	assert.Equal(t, http.StatusOK, api.Get("/limited").Code)
	assert.Equal(t, http.StatusTooManyRequests, api.Get("/limited").Code)
	for range 3 {
		rec := api.Get("/free")
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Empty(t, rec.Header().Get("RateLimit-Policy"))
	}
	assert.Equal(t, map[string]any{"team": "core"}, template.Metadata, "the template is untouched")
}

func TestDuplicatePolicyNamesRefused(t *testing.T) {
	t.Parallel()
	t.Run("group and operation", func(t *testing.T) {
		t.Parallel()
		api, _ := newAPI(t, ratelimit.Config{})
		grp := huma.NewGroup(api, "/v1")
		grp.UseSimpleModifier(ratelimit.Limit(ratelimit.PerMinute(600)))
		op := huma.Operation{OperationID: "dup", Method: http.MethodGet, Path: "/d"}
		ratelimit.Limit(ratelimit.PerMinute(10))(&op)
		assert.PanicsWithValue(t,
			`ratelimit: operation GET /v1/d (dup): ratelimit: two policies named "per-minute" apply to the same requests; give one a distinct Name`,
			func() { huma.Register(grp, op, handler) })
	})
	t.Run("configured and operation", func(t *testing.T) {
		t.Parallel()
		api, _ := newAPI(t, ratelimit.Config{Policies: []ratelimit.Policy{{Name: "burst", Rate: ratelimit.PerSecond(5)}}})
		op := huma.Operation{OperationID: "dup", Method: http.MethodGet, Path: "/d"}
		ratelimit.Apply(ratelimit.Policy{Name: "burst", Rate: ratelimit.PerMinute(10)})(&op)
		assert.PanicsWithValue(t,
			`ratelimit: operation GET /d (dup): ratelimit: two policies named "burst" apply to the same requests; give one a distinct Name`,
			func() { huma.Register(api, op, handler) })
	})
	t.Run("distinct names pass", func(t *testing.T) {
		t.Parallel()
		api, _ := newAPI(t, ratelimit.Config{Policies: []ratelimit.Policy{{Rate: ratelimit.PerMinute(600)}}})
		op := huma.Operation{OperationID: "ok", Method: http.MethodGet, Path: "/ok"}
		ratelimit.Apply(ratelimit.Policy{Name: "op-minute", Rate: ratelimit.PerMinute(10)})(&op)
		huma.Register(api, op, handler)
		rec := api.Get("/ok", "X-Consumer: acme")
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, `"per-minute";q=600;w=60, "op-minute";q=10;w=60`, rec.Header().Get("RateLimit-Policy"))
	})
	t.Run("route", func(t *testing.T) {
		t.Parallel()
		l, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{{Rate: ratelimit.PerMinute(600)}}})
		require.NoError(t, err)
		assert.PanicsWithValue(t,
			`ratelimit: route "r": ratelimit: two policies named "per-minute" apply to the same requests; give one a distinct Name`,
			func() { l.Route("r", ratelimit.Policy{Rate: ratelimit.PerMinute(10)}) })
		assert.Panics(t, func() {
			l.Route("r2", ratelimit.Policy{Name: "a", Rate: ratelimit.PerHour(1)}, ratelimit.Policy{Name: "a", Rate: ratelimit.PerDay(1)})
		})
	})
	t.Run("check", func(t *testing.T) {
		t.Parallel()
		l, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{{Rate: ratelimit.PerMinute(600)}}})
		require.NoError(t, err)
		_, err = l.Check(context.Background(), &ratelimit.Request{}, 1, ratelimit.Policy{Rate: ratelimit.PerMinute(10)})
		require.ErrorContains(t, err, `two policies named "per-minute"`)
	})
	t.Run("configured", func(t *testing.T) {
		t.Parallel()
		_, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
			{Rate: ratelimit.PerMinute(600)}, {Rate: ratelimit.PerMinute(10), Key: ratelimit.ByPlan},
		}})
		require.ErrorContains(t, err, `two policies named "per-minute"`)
	})
}

// TestHumaDocumentsWhatItSends: the refusal's body schema lists violated-policies (huma's
// ErrorModel forbids unknown members), the quota status and the legacy headers are
// documented, and every response of a limited operation may carry the RateLimit headers.
func TestHumaDocumentsWhatItSends(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     ratelimit.Config
		mod     func(*huma.Operation)
		refusal []string // statuses documented with the RateLimitProblem schema
		legacy  bool
	}{
		{"limit", ratelimit.Config{}, ratelimit.Limit(ratelimit.PerMinute(1)), []string{"429"}, false},
		{"quota with QuotaStatus", ratelimit.Config{QuotaStatus: http.StatusPaymentRequired}, ratelimit.Quota(ratelimit.Daily(1)), []string{"429", "402"}, false},
		{"legacy headers", ratelimit.Config{LegacyHeaders: true}, ratelimit.Limit(ratelimit.PerMinute(1)), []string{"429"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api, _ := newAPI(t, tt.cfg)
			op := huma.Operation{OperationID: "get", Method: http.MethodGet, Path: "/x", Errors: []int{http.StatusNotFound}}
			tt.mod(&op)
			huma.Register(api, op, handler)
			got := api.OpenAPI().Paths["/x"].Get
			for _, code := range tt.refusal {
				r := got.Responses[code]
				require.NotNil(t, r, code)
				assert.Equal(t, "#/components/schemas/RateLimitProblem", r.Content["application/problem+json"].Schema.Ref, code)
				assert.Contains(t, r.Headers, "Retry-After", code)
			}
			assert.Equal(t, "#/components/schemas/ErrorModel", got.Responses["404"].Content["application/problem+json"].Schema.Ref,
				"other errors keep the service's error model")
			schema := api.OpenAPI().Components.Schemas.Map()["RateLimitProblem"]
			require.NotNil(t, schema)
			assert.Contains(t, schema.Properties, "violated-policies")
			assert.Contains(t, schema.Properties, "detail")
			assert.Contains(t, got.Responses, "400", "a cost no policy admits")
			assert.Contains(t, got.Responses["503"].Headers, "Retry-After")
			for code, r := range got.Responses {
				assert.Contains(t, r.Headers, "RateLimit", code)
				assert.Contains(t, r.Headers, "RateLimit-Policy", code)
				_, ok := r.Headers["X-RateLimit-Remaining"]
				assert.Equal(t, tt.legacy, ok, code)
			}
		})
	}
}
