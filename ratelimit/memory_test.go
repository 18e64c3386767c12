package ratelimit_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/ratelimit/ratelimittest"
)

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	ratelimittest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Store {
		s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: now})
		require.NoError(t, err)
		return s
	})
}

func TestMemoryStoreBoundedMemory(t *testing.T) {
	t.Parallel()
	clock := ratelimittest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now, MaxKeys: 256})
	require.NoError(t, err)
	ctx, r := context.Background(), ratelimit.PerSecond(10)
	for i := range 10_000 {
		_, err := s.Take(ctx, "k"+itoa(i), r, 1)
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, s.Len(), 256, "never more than MaxKeys")

	// Keys that have refilled are dropped first and losslessly.
	clock.Advance(time.Second)
	for i := range 64 {
		_, err := s.Take(ctx, "fresh"+itoa(i), r, 1)
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, s.Len(), 256)
}

func TestMemoryStoreIdleKeysAreDroppedWithoutLoss(t *testing.T) {
	t.Parallel()
	clock := ratelimittest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now})
	require.NoError(t, err)
	ctx, r := context.Background(), ratelimit.PerSecond(1)
	// An exhausted key survives sweeps triggered by many other keys.
	res, err := s.Take(ctx, "busy", r, 1)
	require.NoError(t, err)
	require.True(t, res.Allowed)
	for i := range 1000 {
		_, err := s.Take(ctx, "k"+itoa(i), r, 1)
		require.NoError(t, err)
	}
	res, err = s.Take(ctx, "busy", r, 1)
	require.NoError(t, err)
	assert.False(t, res.Allowed, "state of an active key is kept")
	clock.Advance(2 * time.Second)
	_, err = s.Take(ctx, "trigger", r, 1)
	require.NoError(t, err)
	for i := range 200 {
		_, err := s.Take(ctx, "n"+itoa(i), r, 1)
		require.NoError(t, err)
	}
	assert.Less(t, s.Len(), 1000, "refilled keys were swept")
}

func TestMemoryStoreRejectsBadConfig(t *testing.T) {
	t.Parallel()
	_, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: -1})
	require.Error(t, err)
}

func TestMemoryStoreTakeAllocatesNothing(t *testing.T) {
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	require.NoError(t, err)
	ctx, r := context.Background(), ratelimit.PerSecond(1e9)
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = s.Take(ctx, "hot", r, 1)
	})
	assert.Zero(t, allocs)
	l, err := ratelimit.New(ratelimit.Config{Store: s})
	require.NoError(t, err)
	allocs = testing.AllocsPerRun(1000, func() {
		_, _ = l.Take(ctx, "hot", r, 1)
	})
	assert.Zero(t, allocs)
}

func itoa(i int) string { return strconv.Itoa(i) }

// Sweeps run while other goroutines take: a key that stays active is never dropped, so it
// never admits more than its rate.
func TestMemoryStoreSweepsUnderConcurrency(t *testing.T) {
	t.Parallel()
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: 4096})
	require.NoError(t, err)
	ctx := context.Background()
	hot := ratelimit.PerHour(100)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 3000 {
				// Churn: short-lived keys that refill at once, forcing sweeps.
				_, _ = s.Take(ctx, "churn-"+strconv.Itoa(g)+"-"+strconv.Itoa(i), ratelimit.PerSecond(1_000_000_000), 1)
				if i%10 == 0 {
					if res, err := s.Take(ctx, "hot", hot, 1); err == nil && res.Allowed {
						allowed.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(100), allowed.Load())
	assert.LessOrEqual(t, s.Len(), 4096)
}
