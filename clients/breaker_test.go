package clients_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/clients"
)

func get(t *testing.T, c *clients.Client, ctx context.Context) (*http.Response, error) {
	t.Helper()
	req, err := c.NewRequest(ctx, http.MethodGet, "/", nil)
	require.NoError(t, err)
	resp, err := c.Transport().RoundTrip(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	return resp, err
}

func TestBreakerTripsOn5xxAndFailsFast(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	c := newClient(t, clients.Config{BaseURL: u.URL, Retry: clients.RetryConfig{MaxAttempts: 1},
		Breaker: clients.BreakerConfig{Failures: 3, OpenFor: time.Hour}})
	for range 3 {
		resp, err := get(t, c, t.Context())
		require.NoError(t, err, "a 5xx is a response, not a transport error")
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	}
	assert.Equal(t, clients.StateOpen, c.BreakerState(u.Listener.Addr().String()))
	_, err := get(t, c, t.Context())
	require.ErrorIs(t, err, clients.ErrCircuitOpen)
	require.ErrorIs(t, err, clients.ErrUpstream)
	var e *clients.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 0, e.Attempts)
	assert.EqualValues(t, 3, u.hits.Load(), "an open breaker sends nothing")
}

func TestBreakerIgnoresCallerCancellationAnd4xx(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("hang") {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusNotFound)
	})
	c := newClient(t, clients.Config{BaseURL: u.URL, Breaker: clients.BreakerConfig{Failures: 2, OpenFor: time.Hour}})
	for range 5 {
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := c.NewRequest(ctx, http.MethodGet, "/?hang", nil)
		arrived := u.hits.Load() + 1
		go func() {
			// Cancel once the request is at the upstream, in flight.
			for u.hits.Load() < arrived {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		_, err := c.Transport().RoundTrip(req)
		require.ErrorIs(t, err, context.Canceled)
		cancel()
		_, err = get(t, c, t.Context())
		require.NoError(t, err)
	}
	assert.Equal(t, clients.StateClosed, c.BreakerState(u.Listener.Addr().String()))
}

func TestBreakerTripOn429(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTooManyRequests) })
	host := u.Listener.Addr().String()
	for _, trip := range []bool{false, true} {
		c := newClient(t, clients.Config{BaseURL: u.URL, Retry: clients.RetryConfig{MaxAttempts: 1},
			Breaker: clients.BreakerConfig{Failures: 2, TripOn429: trip, OpenFor: time.Hour}})
		for range 2 {
			_, err := get(t, c, t.Context())
			require.NoError(t, err)
		}
		assert.Equal(t, trip, c.BreakerState(host) == clients.StateOpen, "TripOn429=%v", trip)
	}
}

// TestBreakerHalfOpenAdmitsExactlyTheProbes trips a breaker, lets it turn half-open, and then
// sends 1,000 concurrent calls: exactly Probes of them may reach the upstream, the rest must
// fail fast; once the probes succeed the breaker closes.
func TestBreakerHalfOpenAdmitsExactlyTheProbes(t *testing.T) {
	t.Parallel()
	const probes, callers = 3, 1000
	var healthy atomic.Bool
	release := make(chan struct{})
	var probed atomic.Int64
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		probed.Add(1)
		<-release // hold the probes until every caller has been answered
		w.WriteHeader(http.StatusOK)
	})
	host := u.Listener.Addr().String()
	var transitions []string
	var mu sync.Mutex
	c := newClient(t, clients.Config{BaseURL: u.URL, Retry: clients.RetryConfig{MaxAttempts: 1},
		Breaker: clients.BreakerConfig{Failures: 5, Probes: probes, OpenFor: 100 * time.Millisecond,
			OnStateChange: func(h string, from, to clients.State) {
				mu.Lock()
				transitions = append(transitions, from.String()+"->"+to.String())
				mu.Unlock()
			}}})
	for range 5 {
		_, err := get(t, c, t.Context())
		require.NoError(t, err)
	}
	require.Equal(t, clients.StateOpen, c.BreakerState(host))
	_, err := get(t, c, t.Context())
	require.ErrorIs(t, err, clients.ErrCircuitOpen)

	healthy.Store(true)
	require.Eventually(t, func() bool { return c.BreakerState(host) == clients.StateHalfOpen },
		10*time.Second, 10*time.Millisecond)

	var rejected, succeeded atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := get(t, c, t.Context())
			switch {
			case err == nil && resp.StatusCode == http.StatusOK:
				succeeded.Add(1)
			case assert.ErrorIs(t, err, clients.ErrCircuitOpen):
				rejected.Add(1)
			}
		}()
	}
	close(start)
	require.Eventually(t, func() bool { return rejected.Load() == callers-probes && probed.Load() == probes },
		30*time.Second, 10*time.Millisecond, "rejected %d, probed %d", rejected.Load(), probed.Load())
	close(release)
	wg.Wait()
	t.Logf("half-open breaker, %d concurrent callers: %d probes reached the upstream, %d rejected", callers, probed.Load(), rejected.Load())
	assert.EqualValues(t, probes, probed.Load())
	assert.EqualValues(t, probes, succeeded.Load())
	assert.Equal(t, clients.StateClosed, c.BreakerState(host), "the probes succeeded")
	mu.Lock()
	assert.Equal(t, []string{"closed->open", "open->half-open", "half-open->closed"}, transitions)
	mu.Unlock()
}

func TestBreakerPerHost(t *testing.T) {
	t.Parallel()
	bad := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	good := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {})
	c := newClient(t, clients.Config{Retry: clients.RetryConfig{MaxAttempts: 1}, Breaker: clients.BreakerConfig{Failures: 1, OpenFor: time.Hour}})
	for _, u := range []string{bad.URL, bad.URL, good.URL} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		resp, err := c.HTTPClient().Do(req)
		if u == good.URL {
			require.NoError(t, err, "one host's open breaker does not affect another")
			_ = resp.Body.Close()
		}
	}
	assert.Equal(t, clients.StateOpen, c.BreakerState(bad.Listener.Addr().String()))
	assert.Equal(t, clients.StateClosed, c.BreakerState(good.Listener.Addr().String()))
}

// TestBreakerCountsHangsTheCallerAbandons: attempts time out, then the caller's deadline
// cuts the last one short. The caller gave up, but only after the upstream had failed, so
// the calls count against it.
func TestBreakerCountsHangsTheCallerAbandons(t *testing.T) {
	t.Parallel()
	hang := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newClient(t, clients.Config{BaseURL: hang.URL, AttemptTimeout: 20 * time.Millisecond,
		Retry:   clients.RetryConfig{MaxAttempts: 10},
		Breaker: clients.BreakerConfig{Failures: 3, OpenFor: time.Hour}})
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 70*time.Millisecond)
		_, err := get(t, c, ctx)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	assert.Equal(t, clients.StateOpen, c.BreakerState(hang.Listener.Addr().String()))
}

// TestBreakerIgnoresInvalidURLs: a URL no transport can send fails at once, unretried and
// uncounted, so one bad URL cannot open the breaker of a real host.
func TestBreakerIgnoresInvalidURLs(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(http.ResponseWriter, *http.Request) {})
	host := u.Listener.Addr().String()
	c := newClient(t, clients.Config{Breaker: clients.BreakerConfig{Failures: 1, OpenFor: time.Hour}})
	for _, bad := range []string{"ftp://" + host + "/file", "/relative", "http:///no-host", "file:///etc/passwd"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, bad, nil)
		require.NoError(t, err)
		_, err = c.Do(req)
		require.ErrorIs(t, err, clients.ErrInvalidURL, bad)
		var e *clients.Error
		require.ErrorAs(t, err, &e)
		assert.Zero(t, e.Attempts, "%s is not attempted", bad)
	}
	assert.Equal(t, clients.StateClosed, c.BreakerState(host))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u.URL, nil)
	resp, err := c.Do(req)
	require.NoError(t, err, "the host's breaker is still closed")
	_ = resp.Body.Close()
	assert.EqualValues(t, 1, u.hits.Load())
}

// TestBreakerKeyIgnoresHostCase: the host name's case does not split one upstream's
// breaker in two.
func TestBreakerKeyIgnoresHostCase(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	_, port, _ := net.SplitHostPort(u.Listener.Addr().String())
	c := newClient(t, clients.Config{Retry: clients.RetryConfig{MaxAttempts: 1}, Breaker: clients.BreakerConfig{Failures: 1, OpenFor: time.Hour}})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://LocalHost:"+port, nil)
	_, err := c.Do(req)
	require.ErrorIs(t, err, clients.ErrStatus)
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, "http://localhost:"+port, nil)
	_, err = c.Do(req)
	require.ErrorIs(t, err, clients.ErrCircuitOpen)
	assert.Equal(t, clients.StateOpen, c.BreakerState("LOCALHOST:"+port))
	assert.EqualValues(t, 1, u.hits.Load())
}

// TestBreakerCountsTheClientTimeout: the Client's own overall timeout cutting off a hung
// upstream is the upstream failing, not the caller giving up.
func TestBreakerCountsTheClientTimeout(t *testing.T) {
	t.Parallel()
	hang := newUpstream(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newClient(t, clients.Config{AttemptTimeout: -1, Timeout: 50 * time.Millisecond,
		Breaker: clients.BreakerConfig{Failures: 2, OpenFor: time.Hour}})
	for range 2 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, hang.URL, nil)
		_, err := c.Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	assert.Equal(t, clients.StateOpen, c.BreakerState(hang.Listener.Addr().String()))
}
