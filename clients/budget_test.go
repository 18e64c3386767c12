package clients_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/clients"
)

// amplification sends calls to an upstream that always fails and returns attempts per call.
func amplification(t *testing.T, cfg clients.Config, calls int) (float64, time.Duration) {
	t.Helper()
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	cfg.BaseURL = u.URL
	cfg.Retry.MaxAttempts = 5
	cfg.Retry.BaseDelay, cfg.Retry.MaxDelay = time.Microsecond, time.Microsecond
	cfg.Breaker.Disabled = true // measure the budget alone
	c, err := clients.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	start := time.Now()
	work := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				_, _ = get(t, c, t.Context())
			}
		}()
	}
	for range calls {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	return float64(u.hits.Load()) / float64(calls), time.Since(start)
}

func TestRetryBudgetBoundsAmplification(t *testing.T) {
	t.Parallel()
	const calls = 2000
	t.Run("ratio alone", func(t *testing.T) {
		t.Parallel()
		cfg := clients.Config{Retry: clients.RetryConfig{Budget: clients.BudgetConfig{MinPerSecond: -1}}}
		ratio, _ := amplification(t, cfg, calls)
		t.Logf("100%% failure, MaxAttempts 5, %d calls: %.4f attempts per call (ratio only, no floor)", calls, ratio)
		assert.LessOrEqual(t, ratio, 1.1)
		assert.Greater(t, ratio, 1.05, "the budget allows its 10%")
	})
	t.Run("frozen clock", func(t *testing.T) {
		t.Parallel()
		// A frozen clock stops the floor from refilling: the first second's allowance only.
		frozen := time.Now()
		ratio, _ := amplification(t, clients.Config{Now: func() time.Time { return frozen }}, calls)
		t.Logf("100%% failure, MaxAttempts 5, %d calls: %.4f attempts per call (frozen clock)", calls, ratio)
		assert.LessOrEqual(t, ratio, 1.1+clients.DefaultBudgetMinPerSecond/calls)
	})
	t.Run("defaults with floor", func(t *testing.T) {
		t.Parallel()
		ratio, took := amplification(t, clients.Config{}, calls)
		floor := clients.DefaultBudgetMinPerSecond * took.Seconds() / calls
		t.Logf("100%% failure, MaxAttempts 5, %d calls in %v: %.4f attempts per call (floor adds up to %.4f)", calls, took, ratio, floor)
		assert.LessOrEqual(t, ratio, 1.1+floor+clients.DefaultBudgetBurst/calls)
	})
	t.Run("no budget", func(t *testing.T) {
		t.Parallel()
		ratio, _ := amplification(t, clients.Config{Retry: clients.RetryConfig{Budget: clients.BudgetConfig{Ratio: -1}}}, 200)
		assert.InDelta(t, 5.0, ratio, 0.001, "without a budget every call makes MaxAttempts attempts")
	})
}

func TestRetryBudgetExhaustedError(t *testing.T) {
	t.Parallel()
	c := newClient(t, clients.Config{Retry: clients.RetryConfig{Budget: clients.BudgetConfig{Ratio: 0.01, MinPerSecond: -1}},
		Breaker: clients.BreakerConfig{Disabled: true}})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+closedAddr(t), nil)
	_, err := c.Do(req)
	require.ErrorIs(t, err, clients.ErrRetryBudgetExhausted)
	var e *clients.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 1, e.Attempts)
}

// TestRetryBudgetExhaustedAfterStatus: when the budget stops the retry of a 5xx, the error
// says so as well as carrying the status.
func TestRetryBudgetExhaustedAfterStatus(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	c := newClient(t, clients.Config{Retry: clients.RetryConfig{Budget: clients.BudgetConfig{Ratio: 0.01, MinPerSecond: -1}},
		Breaker: clients.BreakerConfig{Disabled: true}})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u.URL, nil)
	_, err := c.Do(req)
	require.ErrorIs(t, err, clients.ErrRetryBudgetExhausted)
	require.ErrorIs(t, err, clients.ErrStatus)
	var e *clients.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 1, e.Attempts)
	assert.Equal(t, http.StatusServiceUnavailable, e.Status)
	assert.EqualValues(t, 1, u.hits.Load())
	se := clients.StatusError(err)
	require.NotNil(t, se)
	assert.Equal(t, http.StatusServiceUnavailable, se.GetStatus())
	h, ok := se.(interface{ GetHeaders() http.Header })
	require.True(t, ok)
	assert.NotEmpty(t, h.GetHeaders().Get("Retry-After"))
}

// TestStatusErrorIgnoresCancellation: a call the caller cancelled maps to no status at all.
func TestStatusErrorIgnoresCancellation(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(http.ResponseWriter, *http.Request) {})
	c := newClient(t, clients.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.URL, nil)
	_, err := c.Do(req)
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, clients.StatusError(err))
	assert.Nil(t, clients.StatusError(&clients.Error{Err: context.Canceled}))
}
