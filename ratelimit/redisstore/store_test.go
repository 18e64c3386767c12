package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/ratelimit/ratelimittest"
	"github.com/tollgate-dev/tollgate/ratelimit/redisstore"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// client connects to the shared test Redis.
func client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// prefix is unique per test, and the keys under it are removed afterwards.
func prefix(t *testing.T, c redis.UniversalClient) string {
	t.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	p := "tollgate-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 100).Iterator()
		for iter.Next(ctx) {
			_ = c.Del(ctx, iter.Val()).Err()
		}
	})
	return p
}

func newStore(t *testing.T, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(cfg)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	c := client(t, tollgatetest.RedisAddr(t))
	p := prefix(t, c)
	ratelimittest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Store {
		return newStore(t, redisstore.Config{Client: c, Prefix: p, Now: now, Timeout: 2 * time.Second})
	})
}

// In production the clock is the server's TIME: a burst is admitted up to the limit and the
// refusal says how long until the next unit, whatever the local clock says.
func TestServerClock(t *testing.T) {
	t.Parallel()
	c := client(t, tollgatetest.RedisAddr(t))
	s := newStore(t, redisstore.Config{Client: c, Prefix: prefix(t, c), Timeout: 2 * time.Second})
	ctx, r := context.Background(), ratelimit.PerHour(5)
	for i := range 5 {
		res, err := s.Take(ctx, "k", r, 1)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		assert.Equal(t, int64(4-i), res.Remaining)
	}
	res, err := s.Take(ctx, "k", r, 1)
	require.NoError(t, err)
	assert.False(t, res.Allowed)
	// 12 minutes per unit, minus the little time the takes above took.
	assert.InDelta(t, 12*time.Minute, res.RetryAfter, float64(5*time.Second))

	// A quota with the server's clock: the period is the current UTC day.
	q := ratelimit.Daily(2).In(time.UTC)
	res, err = s.Take(ctx, "q", q, 2)
	require.NoError(t, err)
	require.True(t, res.Allowed)
	res, err = s.Take(ctx, "q", q, 1)
	require.NoError(t, err)
	assert.False(t, res.Allowed)
	_, midnight := q.Period(time.Now())
	assert.InDelta(t, time.Until(midnight), res.RetryAfter, float64(5*time.Second))
}

// Two limiters, as two replicas of a service, enforce one combined limit.
func TestReplicasShareOneLimit(t *testing.T) {
	t.Parallel()
	addr := tollgatetest.RedisAddr(t)
	c1, c2 := client(t, addr), client(t, addr)
	p := prefix(t, c1)
	var limiters []*ratelimit.Limiter
	for _, c := range []*redis.Client{c1, c2} {
		l, err := ratelimit.New(ratelimit.Config{Store: newStore(t, redisstore.Config{Client: c, Prefix: p, Timeout: 2 * time.Second})})
		require.NoError(t, err)
		limiters = append(limiters, l)
	}
	const limit = 40
	r := ratelimit.PerHour(limit)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		l := limiters[i%2]
		wg.Go(func() {
			for range 10 {
				res, err := l.Take(context.Background(), "consumer", r, 1)
				if assert.NoError(t, err) && res.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(limit), allowed.Load())
}

// A Redis Cluster needs every key of one script call in one slot: the key is hash-tagged.
func TestKeysAreHashTagged(t *testing.T) {
	t.Parallel()
	c := client(t, tollgatetest.RedisAddr(t))
	p := prefix(t, c)
	s := newStore(t, redisstore.Config{Client: c, Prefix: p, Timeout: 2 * time.Second})
	_, err := s.Take(context.Background(), "per-minute\x00c:acme", ratelimit.PerMinute(5), 1)
	require.NoError(t, err)
	keys, err := c.Keys(context.Background(), p+"*").Result()
	require.NoError(t, err)
	assert.Equal(t, []string{p + "{per-minute\x00c:acme}"}, keys)
	ttl, err := c.PTTL(context.Background(), keys[0]).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, time.Duration(0), "state expires when it has refilled")
	assert.LessOrEqual(t, ttl, 13*time.Second)
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	_, err := redisstore.New(redisstore.Config{})
	require.Error(t, err, "client required")
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	_, err = redisstore.New(redisstore.Config{Client: c, Timeout: -1})
	require.Error(t, err)
	_, err = redisstore.New(redisstore.Config{Client: c, OnError: 9})
	require.Error(t, err)
}

// Fast rates, whose interval is a fraction of the script's microsecond, never admit more
// than the rate over a window.
func TestFastRateNeverExceedsTheRate(t *testing.T) {
	t.Parallel()
	c := client(t, tollgatetest.RedisAddr(t))
	clock := ratelimittest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newStore(t, redisstore.Config{Client: c, Prefix: prefix(t, c), Now: clock.Now, Timeout: 2 * time.Second})
	// 3.33µs per unit. Redis expires keys in real time, once their limit has refilled: the
	// large burst keeps the key alive for seconds while the test's clock moves by
	// microseconds.
	ctx, r := context.Background(), ratelimit.Per(3, 10*time.Microsecond).WithBurst(3_000_000)
	res, err := s.Take(ctx, "k", r, int(r.Capacity()))
	require.NoError(t, err)
	require.True(t, res.Allowed)
	admitted := 0
	for range 1000 { // one request every microsecond for a millisecond
		clock.Advance(time.Microsecond)
		res, err := s.Take(ctx, "k", r, 1)
		require.NoError(t, err)
		if res.Allowed {
			admitted++
		}
	}
	assert.LessOrEqual(t, admitted, 300, "3 per 10µs")
	assert.Greater(t, admitted, 200)
}
