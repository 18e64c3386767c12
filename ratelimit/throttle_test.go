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
	th := ratelimit.NewAuthThrottle(l, ratelimit.PerHour(20).WithBurst(3))
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
	th := ratelimit.NewAuthThrottle(l, ratelimit.PerHour(1))
	th.Failed(context.Background(), "c")
	_, ok := th.Allow(context.Background(), "c")
	assert.True(t, ok)
}
