package ratelimit_test

import (
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
