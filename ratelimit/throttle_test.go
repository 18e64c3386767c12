package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/ratelimit/ratelimittest"
)

func TestAuthThrottle(t *testing.T) {
	t.Parallel()
	clock := ratelimittest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l, err := ratelimit.New(ratelimit.Config{Now: clock.Now})
	require.NoError(t, err)
	th, err := ratelimit.NewAuthThrottle(l, ratelimit.PerHour(20).WithBurst(3))
	require.NoError(t, err)
	ctx := context.Background()

	for range 10 {
		_, ok := th.Allow(ctx, "203.0.113.9")
		require.True(t, ok, "Allow consumes nothing")
	}
	for range 3 {
		th.Failed(ctx, "203.0.113.9")
	}
	wait, ok := th.Allow(ctx, "203.0.113.9")
	assert.False(t, ok)
	assert.Equal(t, 3*time.Minute, wait, "one attempt refills every 3 minutes")
	_, ok = th.Allow(ctx, "198.51.100.1")
	assert.True(t, ok, "other clients are unaffected")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	th.Failed(cancelled, "198.51.100.1") // still recorded
	th.Failed(ctx, "198.51.100.1")
	th.Failed(ctx, "198.51.100.1")
	_, ok = th.Allow(ctx, "198.51.100.1")
	assert.False(t, ok, "a failure on a cancelled request still counts")

	clock.Advance(3 * time.Minute)
	_, ok = th.Allow(ctx, "203.0.113.9")
	assert.True(t, ok)
}

func TestAuthThrottleFailsOpen(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{Store: failingStore{ratelimit.ErrUnavailable}})
	require.NoError(t, err)
	th, err := ratelimit.NewAuthThrottle(l, ratelimit.PerHour(1))
	require.NoError(t, err)
	th.Failed(context.Background(), "c")
	_, ok := th.Allow(context.Background(), "c")
	assert.True(t, ok)
}

// An invalid rate would make every Take fail, and Allow fails open: the throttle would
// silently let every attempt through. The constructor refuses it instead.
func TestNewAuthThrottleRejectsRatesThatCannotCount(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{})
	require.NoError(t, err)
	for name, r := range map[string]ratelimit.Rate{
		"invalid": {Quota: -1, Window: time.Hour},
		"zero":    {},
		"burst":   ratelimit.PerHour(20).WithBurst(-1),
	} {
		th, err := ratelimit.NewAuthThrottle(l, r)
		assert.Error(t, err, name)
		assert.Nil(t, th, name)
	}
	_, err = ratelimit.NewAuthThrottle(nil, ratelimit.PerHour(20))
	assert.Error(t, err)
}
