package ratelimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/ratelimit/ratelimittest"
)

type throttleFixture struct {
	th     *ratelimit.AuthThrottle
	clock  *ratelimittest.Clock
	reader *sdkmetric.ManualReader
	logs   *bytes.Buffer
}

func newThrottle(t *testing.T, rate, keyRate ratelimit.Rate) throttleFixture {
	t.Helper()
	clock := ratelimittest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l, err := ratelimit.New(ratelimit.Config{Now: clock.Now})
	require.NoError(t, err)
	reader := sdkmetric.NewManualReader()
	logs := &bytes.Buffer{}
	th, err := ratelimit.NewAuthThrottle(ratelimit.AuthThrottleConfig{
		Limiter: l, Rate: rate, KeyRate: keyRate,
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
	})
	require.NoError(t, err)
	return throttleFixture{th: th, clock: clock, reader: reader, logs: logs}
}

// hits reads tollgate.auth.throttled by reason.
func (f throttleFixture) hits(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, f.reader.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "tollgate.auth.throttled" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				reason, _ := dp.Attributes.Value("tollgate.throttle.reason")
				out[reason.AsString()] += dp.Value
			}
		}
	}
	return out
}

func TestAuthThrottleCountsFailuresPerAddress(t *testing.T) {
	t.Parallel()
	f := newThrottle(t, ratelimit.PerHour(20).WithBurst(3), ratelimit.Rate{})
	ctx := context.Background()

	for i := range 3 {
		_, throttled := f.th.Failed(ctx, "203.0.113.9", "")
		require.False(t, throttled, "failure %d is within the burst", i+1)
	}
	wait, throttled := f.th.Failed(ctx, "203.0.113.9", "")
	assert.True(t, throttled)
	assert.Equal(t, 3*time.Minute, wait, "one attempt refills every 3 minutes")
	for range 5 { // refused attempts spend nothing: the budget still refills on time
		_, throttled = f.th.Failed(ctx, "203.0.113.9", "")
		require.True(t, throttled)
	}
	_, throttled = f.th.Failed(ctx, "198.51.100.1", "")
	assert.False(t, throttled, "other addresses are unaffected")

	f.clock.Advance(3 * time.Minute)
	_, throttled = f.th.Failed(ctx, "203.0.113.9", "")
	assert.False(t, throttled, "one failure refilled")
	_, throttled = f.th.Failed(ctx, "203.0.113.9", "")
	assert.True(t, throttled)

	assert.Equal(t, map[string]int64{"address": 7}, f.hits(t))
	assert.Equal(t, 1, strings.Count(f.logs.String(), "failed authentication throttled"),
		"one log line per address per window, however many guesses: %s", f.logs)
	assert.Contains(t, f.logs.String(), "address=203.0.113.9")

	f.clock.Advance(time.Hour)
	for range 4 {
		f.th.Failed(ctx, "203.0.113.9", "")
	}
	assert.Equal(t, 2, strings.Count(f.logs.String(), "failed authentication throttled"), "logged again in the next window")
}

// Guesses spread over many addresses still count against the key they target.
func TestAuthThrottleCountsFailuresPerKey(t *testing.T) {
	t.Parallel()
	f := newThrottle(t, ratelimit.PerHour(20).WithBurst(5), ratelimit.PerHour(10).WithBurst(2))
	ctx := context.Background()
	addr := func(i int) string { return "203.0.113." + string(rune('0'+i)) }
	for i := range 2 {
		_, throttled := f.th.Failed(ctx, addr(i), "k3y1d")
		require.False(t, throttled)
	}
	wait, throttled := f.th.Failed(ctx, addr(2), "k3y1d")
	assert.True(t, throttled, "the third address is refused: the key is over its own budget")
	assert.Equal(t, 6*time.Minute, wait)
	_, throttled = f.th.Failed(ctx, addr(3), "0th3rk3y")
	assert.False(t, throttled, "other keys are unaffected")
	assert.Equal(t, map[string]int64{"key": 1}, f.hits(t))
	assert.Contains(t, f.logs.String(), "key=k3y1d")
}

func TestAuthThrottleFailsOpen(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{Store: failingStore{ratelimit.ErrUnavailable}})
	require.NoError(t, err)
	th, err := ratelimit.NewAuthThrottle(ratelimit.AuthThrottleConfig{Limiter: l, Rate: ratelimit.PerHour(1)})
	require.NoError(t, err)
	for range 3 {
		_, throttled := th.Failed(context.Background(), "c", "k")
		assert.False(t, throttled, "a store that cannot count answers 401, not 429 for everyone")
	}
}

// A failure on a request its client already cancelled still counts.
func TestAuthThrottleCountsCancelledRequests(t *testing.T) {
	t.Parallel()
	f := newThrottle(t, ratelimit.PerHour(20).WithBurst(1), ratelimit.Rate{})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	f.th.Failed(cancelled, "198.51.100.1", "")
	_, throttled := f.th.Failed(context.Background(), "198.51.100.1", "")
	assert.True(t, throttled)
}

// An invalid rate would make every Take fail, and the throttle fails open: it would
// silently let every attempt through. The constructor refuses it instead.
func TestNewAuthThrottleRejectsRatesThatCannotCount(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{})
	require.NoError(t, err)
	for name, cfg := range map[string]ratelimit.AuthThrottleConfig{
		"invalid":     {Limiter: l, Rate: ratelimit.Rate{Quota: -1, Window: time.Hour}},
		"zero":        {Limiter: l},
		"burst":       {Limiter: l, Rate: ratelimit.PerHour(20).WithBurst(-1)},
		"key burst":   {Limiter: l, Rate: ratelimit.PerHour(20), KeyRate: ratelimit.PerHour(20).WithBurst(-1)},
		"no limiter":  {Rate: ratelimit.PerHour(20)},
		"bad keyrate": {Limiter: l, Rate: ratelimit.PerHour(20), KeyRate: ratelimit.Rate{Quota: -3, Window: time.Hour}},
	} {
		th, err := ratelimit.NewAuthThrottle(cfg)
		assert.Error(t, err, name)
		assert.Nil(t, th, name)
	}
}

// BenchmarkAuthThrottleRefused is the throttle's share of a refused guess from a throttled
// address: one in-process decision.
func BenchmarkAuthThrottleRefused(b *testing.B) {
	l, err := ratelimit.New(ratelimit.Config{})
	require.NoError(b, err)
	th, err := ratelimit.NewAuthThrottle(ratelimit.AuthThrottleConfig{Limiter: l, Rate: ratelimit.PerHour(1), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	ctx := context.Background()
	th.Failed(ctx, "203.0.113.9", "")
	b.ReportAllocs()
	for b.Loop() {
		if _, throttled := th.Failed(ctx, "203.0.113.9", ""); !throttled {
			b.Fatal("not throttled")
		}
	}
}
