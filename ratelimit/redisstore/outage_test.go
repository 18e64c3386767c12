package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/ratelimit/redisstore"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// proxy puts a TCP proxy in front of the shared Redis. Stopping it is a Redis outage for
// this test only; starting it again is the recovery.
func proxy(t *testing.T) *toxiproxy.Proxy {
	t.Helper()
	upstream := tollgatetest.RedisAddr(t)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	var b [4]byte
	_, _ = rand.Read(b[:])
	p := toxiproxy.NewProxy(srv, "redis-"+hex.EncodeToString(b[:]), "127.0.0.1:0", upstream)
	require.NoError(t, p.Start())
	t.Cleanup(p.Stop)
	return p
}

// counts returns the decisions counter by outcome.
func counts(t *testing.T, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "tollgate.ratelimit.redis.decisions" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				v, _ := dp.Attributes.Value("outcome")
				out[v.AsString()] += dp.Value
			}
		}
	}
	return out
}

func TestOutageModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode redisstore.Mode
		// during checks Take while Redis is gone, on a key exhausted in Redis before.
		during func(t *testing.T, s *redisstore.Store)
	}{
		{redisstore.FailClosed, func(t *testing.T, s *redisstore.Store) {
			_, err := s.Take(context.Background(), "k", rate, 1)
			require.ErrorIs(t, err, ratelimit.ErrUnavailable)
			var ue *ratelimit.UnavailableError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, 2*time.Second, ue.RetryAfter)

			// Through the middleware: 503 with Retry-After, not 429.
			l, err := ratelimit.New(ratelimit.Config{Store: s, Policies: []ratelimit.Policy{{Rate: rate}}})
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			l.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
			assert.Equal(t, "2", rec.Header().Get("Retry-After"))
		}},
		{redisstore.FailOpen, func(t *testing.T, s *redisstore.Store) {
			for range 5 {
				res, err := s.Take(context.Background(), "k", rate, 1)
				require.NoError(t, err)
				assert.True(t, res.Allowed, "admitted unchecked")
			}
		}},
		{redisstore.LocalFallback, func(t *testing.T, s *redisstore.Store) {
			// Replicas: 2, so this process allows half of the rate on its own.
			allowed := 0
			for range 5 {
				res, err := s.Take(context.Background(), "k", rate, 1)
				require.NoError(t, err)
				if res.Allowed {
					allowed++
				}
			}
			assert.Equal(t, 2, allowed)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			t.Parallel()
			p := proxy(t)
			c := redis.NewClient(&redis.Options{Addr: p.Listen, ContextTimeoutEnabled: true, MaxRetries: -1})
			t.Cleanup(func() { _ = c.Close() })
			direct := client(t, tollgatetest.RedisAddr(t))
			reader := sdkmetric.NewManualReader()
			s := newStore(t, redisstore.Config{
				Client: c, Prefix: prefix(t, direct), OnError: tt.mode, Replicas: 2,
				Timeout: time.Second, RetryAfter: 2 * time.Second,
				MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
			})
			ctx := context.Background()
			for range 4 {
				res, err := s.Take(ctx, "k", rate, 1)
				require.NoError(t, err)
				require.True(t, res.Allowed)
			}
			res, err := s.Take(ctx, "k", rate, 1)
			require.NoError(t, err)
			require.False(t, res.Allowed, "exhausted in Redis")

			p.Stop()
			tt.during(t, s)
			assert.Positive(t, counts(t, reader)[tt.mode.String()], "degraded decisions are counted")

			require.NoError(t, p.Start())
			require.Eventually(t, func() bool {
				res, err := s.Take(ctx, "k", rate, 1)
				// Redis is back when its state (the key exhausted before the outage) decides,
				// once the breaker's cooldown has passed.
				return err == nil && !res.Allowed && res.RetryAfter > 10*time.Minute && counts(t, reader)["redis"] > 5
			}, 10*time.Second, 50*time.Millisecond)
			assert.Equal(t, int64(6), counts(t, reader)["redis"], "5 before, 1 after")
		})
	}
}

var rate = ratelimit.PerHour(4)

// A Redis that answers slowly costs a request no more than the timeout, whether or not the
// client honours context deadlines.
func TestSlowRedisIsBoundedByTimeout(t *testing.T) {
	t.Parallel()
	for _, honour := range []bool{true, false} {
		t.Run(map[bool]string{true: "context deadlines", false: "abandoned call"}[honour], func(t *testing.T) {
			t.Parallel()
			p := proxy(t)
			c := redis.NewClient(&redis.Options{Addr: p.Listen, ContextTimeoutEnabled: honour})
			t.Cleanup(func() { _ = c.Close() })
			s := newStore(t, redisstore.Config{Client: c, Prefix: prefix(t, client(t, tollgatetest.RedisAddr(t))), Timeout: 50 * time.Millisecond})
			_, err := s.Take(context.Background(), "warm", rate, 1) // connect before the latency
			require.NoError(t, err)
			_, err = p.Toxics.AddToxicJson(strings.NewReader(
				`{"name":"slow","type":"latency","stream":"downstream","attributes":{"latency":1500}}`))
			require.NoError(t, err)
			start := time.Now()
			_, err = s.Take(context.Background(), "k", rate, 1)
			elapsed := time.Since(start)
			require.ErrorIs(t, err, ratelimit.ErrUnavailable)
			assert.Less(t, elapsed, time.Second, "bounded by the 50ms timeout, not the 1.5s latency")
			require.NoError(t, p.Toxics.RemoveToxic(context.Background(), "slow"))
		})
	}
}

// TestBreakerSkipsAFailingRedis checks that after TripAfter failed decisions the store
// stops paying the timeout: decisions are made in the degraded mode at once until Cooldown
// has passed, and then in Redis again.
func TestBreakerSkipsAFailingRedis(t *testing.T) {
	t.Parallel()
	p := proxy(t)
	c := redis.NewClient(&redis.Options{Addr: p.Listen, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	const timeout, cooldown = 50 * time.Millisecond, 300 * time.Millisecond
	s := newStore(t, redisstore.Config{Client: c, Prefix: prefix(t, client(t, tollgatetest.RedisAddr(t))),
		Timeout: timeout, OnError: redisstore.LocalFallback, TripAfter: 3, Cooldown: cooldown, MeterProvider: mp})
	ctx := context.Background()
	_, err := s.Take(ctx, "warm", rate, 1)
	require.NoError(t, err)
	_, err = p.Toxics.AddToxicJson(strings.NewReader(
		`{"name":"slow","type":"latency","stream":"downstream","attributes":{"latency":1000}}`))
	require.NoError(t, err)

	took := func() time.Duration {
		start := time.Now()
		res, err := s.Take(ctx, "k", ratelimit.PerSecond(10000), 1)
		require.NoError(t, err, "LocalFallback decides")
		assert.True(t, res.Allowed)
		return time.Since(start)
	}
	for i := range 3 {
		assert.GreaterOrEqual(t, took(), timeout, "decision %d waits for Redis", i)
	}
	opened := time.Now()
	for range 20 {
		assert.Less(t, took(), timeout/5, "the open breaker does not wait for Redis")
	}
	require.NoError(t, p.Toxics.RemoveToxic(ctx, "slow"))
	time.Sleep(cooldown - time.Since(opened) + 20*time.Millisecond)
	before := counts(t, reader)["redis"]
	took()
	took()
	assert.Equal(t, before+2, counts(t, reader)["redis"], "after the cooldown Redis decides again")
}
