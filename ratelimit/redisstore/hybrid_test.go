package redisstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/ratelimit/ratelimittest"
	"github.com/tollgate-dev/tollgate/ratelimit/redisstore"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// The hybrid mode never admits more than the rate across replicas, and admits at most
// Replicas × Lease fewer.
func TestHybridAdmissionBounds(t *testing.T) {
	t.Parallel()
	addr := tollgatetest.RedisAddr(t)
	c := client(t, addr)
	p := prefix(t, c)
	const replicas, lease, limit = 3, 10, 200
	var stores []*redisstore.Store
	for range replicas {
		stores = append(stores, newStore(t, redisstore.Config{Client: client(t, addr), Prefix: p, Timeout: 2 * time.Second, Lease: lease, LeaseTTL: time.Minute}))
	}
	r := ratelimit.PerHour(limit)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 12 {
		s := stores[i%replicas]
		wg.Go(func() {
			for range 40 {
				res, err := s.Take(context.Background(), "k", r, 1)
				if assert.NoError(t, err) && res.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, allowed.Load(), int64(limit), "never more than the rate")
	assert.GreaterOrEqual(t, allowed.Load(), int64(limit-replicas*lease), "at most one lease per replica stranded")
}

func TestHybridSavesRoundTrips(t *testing.T) {
	t.Parallel()
	c := client(t, tollgatetest.RedisAddr(t))
	reader := sdkmetric.NewManualReader()
	clock := ratelimittest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	s := newStore(t, redisstore.Config{Client: c, Prefix: prefix(t, c), Timeout: 2 * time.Second,
		Lease: 10, Now: clock.Now, MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	ctx, r := context.Background(), ratelimit.PerHour(1000)
	for i := range 100 {
		res, err := s.Take(ctx, "k", r, 1)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		assert.Equal(t, int64(1000-i-1), res.Remaining, "remaining counts the unspent lease")
	}
	assert.Equal(t, int64(10), counts(t, reader)["redis"], "one round trip per lease of 10")

	// A lease not spent within LeaseTTL is given up: Redis counted it as spent.
	res, err := s.Take(ctx, "idle", r, 1)
	require.NoError(t, err)
	require.True(t, res.Allowed)
	clock.Advance(time.Second)
	_, err = s.Take(ctx, "idle", r, 1)
	require.NoError(t, err)
	res, err = s.Take(ctx, "idle", r, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(1000-20+9), res.Remaining,
		"two leases taken (a unit refills every 3.6s), nine units of the second still to spend")
}

// A peek counts the units this replica has leased and not spent: Redis alone counts the
// whole lease as spent, which would refuse a client after spending one unit.
func TestHybridPeekCountsUnspentLease(t *testing.T) {
	t.Parallel()
	c := client(t, tollgatetest.RedisAddr(t))
	clock := ratelimittest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	s := newStore(t, redisstore.Config{Client: c, Prefix: prefix(t, c), Timeout: 2 * time.Second, Lease: 10, Now: clock.Now})
	ctx, r := context.Background(), ratelimit.PerHour(20).WithBurst(5) // an authentication throttle's rate
	res, err := s.Take(ctx, "k", r, 1)
	require.NoError(t, err)
	require.True(t, res.Allowed)
	res, err = s.Take(ctx, "k", r, 0)
	require.NoError(t, err)
	assert.True(t, res.Allowed, "four units left after one failure")
	assert.Equal(t, int64(4), res.Remaining)
	assert.Zero(t, res.RetryAfter)
	for range 4 {
		res, err = s.Take(ctx, "k", r, 1)
		require.NoError(t, err)
		require.True(t, res.Allowed)
	}
	res, err = s.Take(ctx, "k", r, 0)
	require.NoError(t, err)
	assert.False(t, res.Allowed, "the burst is spent")
	assert.Positive(t, res.RetryAfter)
}

// Near exhaustion the last units are decided one by one, not stranded in a lease.
func TestHybridExactNearTheLimit(t *testing.T) {
	t.Parallel()
	c := client(t, tollgatetest.RedisAddr(t))
	clock := ratelimittest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	s := newStore(t, redisstore.Config{Client: c, Prefix: prefix(t, c), Timeout: 2 * time.Second, Lease: 4, Now: clock.Now})
	ctx, r := context.Background(), ratelimit.PerHour(10)
	allowed := 0
	for range 15 {
		res, err := s.Take(ctx, "k", r, 1)
		require.NoError(t, err)
		if res.Allowed {
			allowed++
		}
	}
	assert.Equal(t, 10, allowed)
}
