// Package ratelimittest checks that a [ratelimit.Store] keeps the contract the limiter relies
// on: exact counts at window edges, bursts, costs larger than what remains, peeks, key
// isolation, calendar quotas and no over-admission under concurrent callers.
//
// A store passes the kit when its decisions can be driven by the kit's clock. Stores whose
// production clock is elsewhere (ratelimit/redisstore takes time from the Redis server)
// expose a clock override for this purpose and test their real clock separately.
package ratelimittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// Clock is a manual clock for tests. It is safe for concurrent use.
type Clock = tollgatetest.Clock

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return tollgatetest.NewClock(t) }

// NewStore returns the store under test, reading time from now. It may return a store that
// shares a backend with others: every check uses keys of its own.
type NewStore func(t *testing.T, now func() time.Time) ratelimit.Store

// epoch is a whole second, well away from any period boundary, so that stores with
// microsecond or millisecond clocks see the same instants as the kit.
var epoch = time.Date(2030, time.March, 14, 10, 0, 0, 0, time.UTC)

// Run runs every check against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	checks := []struct {
		name string
		fn   func(t *testing.T, s ratelimit.Store, c *Clock, key func() string)
	}{
		{"BurstThenRefusal", burstThenRefusal},
		{"WindowEdge", windowEdge},
		{"FullRefill", fullRefill},
		{"SmallBurst", smallBurst},
		{"CostAboveRemaining", costAboveRemaining},
		{"CostAboveBurst", costAboveBurst},
		{"Peek", peek},
		{"KeyIsolation", keyIsolation},
		{"ConcurrentTakers", concurrentTakers},
		{"DailyQuota", dailyQuota},
		{"MonthlyQuota", monthlyQuota},
		{"CancelledContext", cancelledContext},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock(epoch)
			s := newStore(t, clock.Now)
			prefix := randomPrefix(t)
			var n atomic.Int64
			key := func() string { return prefix + ":" + itoa(n.Add(1)) }
			c.fn(t, s, clock, key)
		})
	}
}

func take(t *testing.T, s ratelimit.Store, key string, r ratelimit.Rate, n int) ratelimit.Result {
	t.Helper()
	res, err := s.Take(context.Background(), key, r, n)
	require.NoError(t, err)
	return res
}

func burstThenRefusal(t *testing.T, s ratelimit.Store, _ *Clock, key func() string) {
	k, r := key(), ratelimit.PerSecond(10)
	for i := range 10 {
		res := take(t, s, k, r, 1)
		require.True(t, res.Allowed, "take %d", i+1)
		assert.Equal(t, int64(9-i), res.Remaining, "remaining after take %d", i+1)
		assert.Equal(t, time.Duration(i+1)*100*time.Millisecond, res.ResetAfter)
		assert.Zero(t, res.RetryAfter)
	}
	res := take(t, s, k, r, 1)
	assert.False(t, res.Allowed)
	assert.Zero(t, res.Remaining)
	assert.Equal(t, 100*time.Millisecond, res.RetryAfter)
	assert.Equal(t, time.Second, res.ResetAfter)
}

func windowEdge(t *testing.T, s ratelimit.Store, c *Clock, key func() string) {
	k, r := key(), ratelimit.PerSecond(10)
	for range 10 {
		require.True(t, take(t, s, k, r, 1).Allowed)
	}
	c.Advance(99 * time.Millisecond)
	res := take(t, s, k, r, 1)
	require.False(t, res.Allowed, "one millisecond before a unit refills")
	assert.Equal(t, time.Millisecond, res.RetryAfter)
	c.Advance(time.Millisecond)
	require.True(t, take(t, s, k, r, 1).Allowed, "exactly when a unit refills")
	require.False(t, take(t, s, k, r, 1).Allowed, "only one unit refilled")
}

func fullRefill(t *testing.T, s ratelimit.Store, c *Clock, key func() string) {
	k, r := key(), ratelimit.PerMinute(6)
	for range 6 {
		require.True(t, take(t, s, k, r, 1).Allowed)
	}
	require.False(t, take(t, s, k, r, 1).Allowed)
	c.Advance(time.Hour) // idle far longer than the window: capacity caps at the burst
	allowed := 0
	for range 10 {
		if take(t, s, k, r, 1).Allowed {
			allowed++
		}
	}
	assert.Equal(t, 6, allowed)
}

func smallBurst(t *testing.T, s ratelimit.Store, c *Clock, key func() string) {
	k, r := key(), ratelimit.PerMinute(60).WithBurst(5)
	for range 5 {
		require.True(t, take(t, s, k, r, 1).Allowed)
	}
	res := take(t, s, k, r, 1)
	require.False(t, res.Allowed)
	assert.Equal(t, time.Second, res.RetryAfter)
	c.Advance(time.Second)
	require.True(t, take(t, s, k, r, 1).Allowed)
	require.False(t, take(t, s, k, r, 1).Allowed)
}

func costAboveRemaining(t *testing.T, s ratelimit.Store, c *Clock, key func() string) {
	k, r := key(), ratelimit.PerSecond(10)
	require.True(t, take(t, s, k, r, 7).Allowed)
	res := take(t, s, k, r, 4)
	require.False(t, res.Allowed, "4 units with 3 remaining")
	assert.Equal(t, int64(3), res.Remaining, "a refused take consumes nothing")
	assert.Equal(t, 100*time.Millisecond, res.RetryAfter, "one more unit refills in 100ms")
	res = take(t, s, k, r, 3)
	require.True(t, res.Allowed)
	assert.Zero(t, res.Remaining)

	q := ratelimit.Daily(5)
	qk := key()
	require.True(t, take(t, s, qk, q, 4).Allowed)
	res = take(t, s, qk, q, 2)
	require.False(t, res.Allowed)
	assert.Equal(t, int64(1), res.Remaining)
	require.True(t, take(t, s, qk, q, 1).Allowed)
}

func costAboveBurst(t *testing.T, s ratelimit.Store, _ *Clock, key func() string) {
	k, r := key(), ratelimit.PerSecond(10)
	res := take(t, s, k, r, 11)
	require.False(t, res.Allowed)
	assert.Equal(t, int64(10), res.Remaining, "nothing consumed")
	require.True(t, take(t, s, k, r, 10).Allowed)
}

func peek(t *testing.T, s ratelimit.Store, c *Clock, key func() string) {
	k, r := key(), ratelimit.PerSecond(10)
	res := take(t, s, k, r, 0)
	assert.True(t, res.Allowed)
	assert.Equal(t, int64(10), res.Remaining, "peek at an unknown key")
	require.True(t, take(t, s, k, r, 4).Allowed)
	for range 3 {
		res = take(t, s, k, r, 0)
		assert.True(t, res.Allowed)
		assert.Equal(t, int64(6), res.Remaining, "peeks consume nothing")
	}
	require.True(t, take(t, s, k, r, 6).Allowed)
	res = take(t, s, k, r, 0)
	assert.False(t, res.Allowed, "peek when exhausted")
	assert.Equal(t, 100*time.Millisecond, res.RetryAfter)
	c.Advance(100 * time.Millisecond)
	assert.True(t, take(t, s, k, r, 0).Allowed)

	q, qk := ratelimit.Daily(2), key()
	require.True(t, take(t, s, qk, q, 2).Allowed)
	res = take(t, s, qk, q, 0)
	assert.False(t, res.Allowed)
	assert.Equal(t, 14*time.Hour-100*time.Millisecond, res.RetryAfter, "until midnight UTC")
}

func keyIsolation(t *testing.T, s ratelimit.Store, _ *Clock, key func() string) {
	a, b, r := key(), key(), ratelimit.PerMinute(3)
	for range 3 {
		require.True(t, take(t, s, a, r, 1).Allowed)
	}
	require.False(t, take(t, s, a, r, 1).Allowed)
	res := take(t, s, b, r, 1)
	require.True(t, res.Allowed, "another key is untouched")
	assert.Equal(t, int64(2), res.Remaining)
}

func concurrentTakers(t *testing.T, s ratelimit.Store, _ *Clock, key func() string) {
	const workers, each, limit = 16, 25, 150
	k, r := key(), ratelimit.PerHour(limit)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				res, err := s.Take(context.Background(), k, r, 1)
				if assert.NoError(t, err) && res.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(limit), allowed.Load(), "exactly the limit is admitted, never more")
}

func dailyQuota(t *testing.T, s ratelimit.Store, c *Clock, key func() string) {
	// UTC+2: the kit's epoch is 12:00 local; the day ends in 12 hours.
	loc := time.FixedZone("UTC+2", 2*60*60)
	k, r := key(), ratelimit.Daily(3).In(loc)
	c.Advance(12*time.Hour - time.Second)
	for i := range 3 {
		res := take(t, s, k, r, 1)
		require.True(t, res.Allowed)
		assert.Equal(t, int64(2-i), res.Remaining)
		assert.Equal(t, time.Second, res.ResetAfter)
	}
	res := take(t, s, k, r, 1)
	require.False(t, res.Allowed)
	assert.Equal(t, time.Second, res.RetryAfter, "the quota resets at local midnight")
	c.Advance(time.Second)
	res = take(t, s, k, r, 1)
	require.True(t, res.Allowed, "a new day")
	assert.Equal(t, int64(2), res.Remaining)
	assert.Equal(t, 24*time.Hour, res.ResetAfter)
}

func monthlyQuota(t *testing.T, s ratelimit.Store, c *Clock, key func() string) {
	k, r := key(), ratelimit.Monthly(2).In(time.UTC)
	require.True(t, take(t, s, k, r, 2).Allowed)
	res := take(t, s, k, r, 1)
	require.False(t, res.Allowed)
	untilApril := time.Date(2030, time.April, 1, 0, 0, 0, 0, time.UTC).Sub(epoch)
	assert.Equal(t, untilApril, res.RetryAfter)
	c.Advance(untilApril - time.Millisecond)
	require.False(t, take(t, s, k, r, 1).Allowed, "still March")
	c.Advance(time.Millisecond)
	require.True(t, take(t, s, k, r, 2).Allowed, "April")
}

func cancelledContext(t *testing.T, s ratelimit.Store, _ *Clock, key func() string) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Take(ctx, key(), ratelimit.PerSecond(1), 1)
	require.ErrorIs(t, err, context.Canceled)
}

func randomPrefix(t *testing.T) string {
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return "kit-" + hex.EncodeToString(b[:])
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}
