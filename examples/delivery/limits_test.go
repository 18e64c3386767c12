package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/examples/delivery/deliveries"
	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// asDemo stands in for the authentication middleware: every request is the demo consumer
// on the free plan.
func asDemo(ctx huma.Context, next func(huma.Context)) {
	p := &auth.Principal{Consumer: "demo", Plan: "free"}
	next(huma.WithContext(ctx, auth.NewContext(ctx.Context(), p)))
}

func limitedAPI(t *testing.T, getenv func(string) string) http.Handler {
	t.Helper()
	limits, closeLimits, err := newLimits(getenv)
	require.NoError(t, err)
	t.Cleanup(func() { _ = closeLimits() })
	mux := http.NewServeMux()
	api := newAPI(mux)
	api.UseMiddleware(asDemo, limits.Huma(api))
	deliveries.Register(huma.NewGroup(api, "/v1"), &deliveries.Service{Store: deliveries.NewStore(nil)}, deliveries.Policy{})
	return checked(t, mux)
}

func get(h http.Handler) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/deliveries", nil))
	return rec
}

func TestBurstWithDemoKeyReaches429(t *testing.T) {
	t.Parallel()
	h := limitedAPI(t, func(string) string { return "" })
	var last *httptest.ResponseRecorder
	for range 10 {
		last = get(h)
		require.Equal(t, http.StatusOK, last.Code, last.Body.String())
		assert.NotEmpty(t, last.Header().Get("RateLimit"), "allowed responses say where the caller stands")
	}
	limits, err := ratelimit.ParseRateLimit(last.Header().Get("RateLimit"))
	require.NoError(t, err)
	require.Len(t, limits, 2)
	assert.Equal(t, "per-consumer", limits[0].Policy)
	assert.Zero(t, limits[0].Remaining)
	assert.Equal(t, "daily", limits[1].Policy)
	assert.Equal(t, int64(190), limits[1].Remaining, "the free plan's 200 a day")

	rec := get(h)
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, `"per-consumer";q=60;w=60, "daily";q=200;w=86400`, rec.Header().Get("RateLimit-Policy"))
	assert.Contains(t, rec.Header().Get("RateLimit"), `"per-consumer";r=0`)
	assert.Contains(t, rec.Body.String(), `"violated-policies":["per-consumer"]`)
}

// Two replicas of the example sharing Redis enforce one combined limit.
func TestReplicasShareLimitsThroughRedis(t *testing.T) {
	t.Parallel()
	addr := tollgatetest.RedisAddr(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "tollgate-test:example:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			_ = rdb.Del(ctx, iter.Val()).Err()
		}
	})
	env := map[string]string{"REDIS_URL": "redis://" + addr, "RATELIMIT_PREFIX": prefix}
	replicas := []http.Handler{limitedAPI(t, func(k string) string { return env[k] }), limitedAPI(t, func(k string) string { return env[k] })}
	allowed := 0
	for i := range 30 {
		if get(replicas[i%2]).Code == http.StatusOK {
			allowed++
		}
	}
	// The burst of 10 is shared, plus at most a unit or two refilled while the test ran.
	assert.GreaterOrEqual(t, allowed, 10)
	assert.LessOrEqual(t, allowed, 12, "one budget for both replicas, not one each")
}
