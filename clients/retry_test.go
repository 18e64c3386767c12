package clients_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/clients"
)

func TestRetriesIdempotentMethods(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"GET", "HEAD", "PUT", "DELETE", "OPTIONS"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) < 3 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			c := newClient(t, clients.Config{BaseURL: u.URL})
			req, err := c.NewRequest(t.Context(), method, "/x", nil)
			require.NoError(t, err)
			resp, err := c.HTTPClient().Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.EqualValues(t, 3, u.hits.Load())
		})
	}
}

func TestPostWithoutKeyAttemptedOnce(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.HandlerFunc{
		"503":   func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) },
		"reset": func(w http.ResponseWriter, _ *http.Request) { reset(w) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream(t, h)
			c := newClient(t, clients.Config{BaseURL: u.URL, Retry: clients.RetryConfig{MaxAttempts: 5}})
			req, err := c.NewRequest(t.Context(), http.MethodPost, "/charges", strings.NewReader(`{"cents":499}`))
			require.NoError(t, err)
			resp, err := c.Do(req)
			require.Error(t, err)
			assert.Nil(t, resp)
			assert.EqualValues(t, 1, u.hits.Load(), "a POST without an idempotency key must not be repeated")
			var e *clients.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, 1, e.Attempts)
			assert.ErrorIs(t, err, clients.ErrUpstream)
		})
	}
}

func TestPostWithKeySameKeyOnEveryAttempt(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		generate bool
		key      string
	}{
		"caller key":    {key: "order-42"},
		"generated key": {generate: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var keys, bodies []string
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				bodies = append(bodies, string(b))
				n := len(keys)
				mu.Unlock()
				if n < 3 {
					reset(w)
					return
				}
				w.WriteHeader(http.StatusCreated)
			})
			c := newClient(t, clients.Config{BaseURL: u.URL, Retry: clients.RetryConfig{GenerateIdempotencyKey: tc.generate}})
			req, err := c.NewRequest(t.Context(), http.MethodPost, "/charges", strings.NewReader(`{"cents":499}`))
			require.NoError(t, err)
			if tc.key != "" {
				req.Header.Set("Idempotency-Key", tc.key)
			}
			resp, err := c.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Len(t, keys, 3)
			assert.NotEmpty(t, keys[0])
			assert.Equal(t, []string{keys[0], keys[0], keys[0]}, keys, "every attempt carries the same key")
			assert.Equal(t, []string{`{"cents":499}`, `{"cents":499}`, `{"cents":499}`}, bodies, "the body is re-sent whole")
			if tc.generate {
				assert.Empty(t, req.Header.Get("Idempotency-Key"), "the caller's request is not modified")
			} else {
				assert.Equal(t, tc.key, keys[0])
			}
		})
	}
}

func TestConnectErrorRetriedForAnyMethod(t *testing.T) {
	t.Parallel()
	c := newClient(t, clients.Config{Retry: clients.RetryConfig{MaxAttempts: 4}})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+closedAddr(t)+"/charges", strings.NewReader("x"))
	require.NoError(t, err)
	_, err = c.Do(req)
	var e *clients.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 4, e.Attempts, "nothing was sent, so a POST without a key is retried")
	assert.Equal(t, 0, e.Status)
}

func TestRetryAfterCappedByMaxDelay(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	c := newClient(t, clients.Config{BaseURL: u.URL, Retry: clients.RetryConfig{MaxDelay: 10 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := c.NewRequest(ctx, http.MethodGet, "/", nil)
	require.NoError(t, err)
	resp, err := c.HTTPClient().Do(req)
	require.NoError(t, err, "an hour-long Retry-After is capped at MaxDelay, well inside the deadline")
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.EqualValues(t, clients.DefaultMaxAttempts, u.hits.Load())
}

func TestNoRetryThatCannotFinishBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := newClient(t, clients.Config{BaseURL: u.URL, Retry: clients.RetryConfig{MaxDelay: time.Minute}})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := c.NewRequest(ctx, http.MethodGet, "/", nil)
	require.NoError(t, err)
	resp, err := c.HTTPClient().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the wait would outlive the deadline, so the answer comes now")
	assert.EqualValues(t, 1, u.hits.Load())
}

func TestResetConnectionRetriedForGet(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			reset(w)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	c := newClient(t, clients.Config{BaseURL: u.URL})
	req, err := c.NewRequest(t.Context(), http.MethodGet, "/", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "ok", string(b))
	assert.EqualValues(t, 2, n.Load())
}

func TestBodies(t *testing.T) {
	t.Parallel()
	payload := strings.Repeat("p", 1000)
	for name, tc := range map[string]struct {
		body      func() io.Reader
		maxBuffer int64
		wantHits  int64
	}{
		"GetBody":                   {body: func() io.Reader { return strings.NewReader(payload) }, wantHits: 3},
		"small stream is buffered":  {body: func() io.Reader { return io.MultiReader(strings.NewReader(payload)) }, wantHits: 3},
		"large stream is sent once": {body: func() io.Reader { return io.MultiReader(strings.NewReader(payload)) }, maxBuffer: 100, wantHits: 1},
		"never buffer":              {body: func() io.Reader { return io.MultiReader(strings.NewReader(payload)) }, maxBuffer: -1, wantHits: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got bodies
			u := newUpstream(t, got.handler(http.StatusServiceUnavailable))
			c := newClient(t, clients.Config{BaseURL: u.URL, Retry: clients.RetryConfig{MaxBufferedBody: tc.maxBuffer}})
			req, err := c.NewRequest(t.Context(), http.MethodPut, "/", tc.body())
			require.NoError(t, err)
			resp, err := c.HTTPClient().Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, tc.wantHits, u.hits.Load())
			for _, g := range got.all() {
				assert.Equal(t, payload, g, "every attempt sends the whole body")
			}
		})
	}
}

// seekBody is a seekable body, like a file.
type seekBody struct {
	*bytes.Reader
	closed bool
}

func (s *seekBody) Close() error { s.closed = true; return nil }

func TestSeekableBodyRewound(t *testing.T) {
	t.Parallel()
	var got bodies
	u := newUpstream(t, got.handler(http.StatusBadGateway))
	c := newClient(t, clients.Config{BaseURL: u.URL})
	req, err := c.NewRequest(t.Context(), http.MethodPut, "/", nil)
	require.NoError(t, err)
	body := &seekBody{Reader: bytes.NewReader([]byte("0123456789"))}
	_, _ = body.Seek(2, io.SeekStart)
	req.Body, req.ContentLength = body, 8
	resp, err := c.HTTPClient().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, []string{"23456789", "23456789", "23456789"}, got.all())
	assert.True(t, body.closed)
}

func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	// The default transport enforces the timeout with its own timers; a transport of the
	// caller's own gets a per-attempt context.
	own := http.DefaultTransport.(*http.Transport).Clone()
	for name, transport := range map[string]http.RoundTripper{
		"default transport": nil,
		"own transport":     roundTripFunc(own.RoundTrip),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					<-r.Context().Done() // hang until the client gives up on this attempt
					return
				}
				_, _ = io.WriteString(w, "ok")
			})
			c := newClient(t, clients.Config{BaseURL: u.URL, AttemptTimeout: 50 * time.Millisecond, Transport: transport})
			req, err := c.NewRequest(t.Context(), http.MethodGet, "/", nil)
			require.NoError(t, err)
			resp, err := c.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.EqualValues(t, 2, n.Load())

			hang := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			c = newClient(t, clients.Config{BaseURL: hang.URL, AttemptTimeout: 20 * time.Millisecond, Transport: transport})
			req, err = c.NewRequest(t.Context(), http.MethodGet, "/", nil)
			require.NoError(t, err)
			_, err = c.Do(req)
			require.ErrorIs(t, err, clients.ErrAttemptTimeout)
			var e *clients.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, clients.DefaultMaxAttempts, e.Attempts)
			assert.Equal(t, clients.StateClosed, c.BreakerState(hang.Listener.Addr().String()), "one failed call is below the threshold")
			for range clients.DefaultBreakerFailures {
				_, _ = c.Do(req)
			}
			assert.Equal(t, clients.StateOpen, c.BreakerState(hang.Listener.Addr().String()), "attempt timeouts count against the upstream")
		})
	}
}

func TestCallerDeadlineWinsWithoutLeaks(t *testing.T) {
	hang := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newClient(t, clients.Config{BaseURL: hang.URL, AttemptTimeout: time.Minute})
	before := runtimeGoroutines()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			req, _ := c.NewRequest(ctx, http.MethodGet, "/", nil)
			start := time.Now()
			_, err := c.Do(req)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Less(t, time.Since(start), 5*time.Second, "the caller's deadline ends the call")
		}()
	}
	wg.Wait()
	c.CloseIdleConnections()
	hang.CloseClientConnections()
	require.Eventually(t, func() bool { return runtimeGoroutines() <= before+2 }, 10*time.Second, 20*time.Millisecond,
		"goroutines left behind: before %d", before)
	assert.Equal(t, clients.StateClosed, c.BreakerState(hang.Listener.Addr().String()), "the caller giving up does not count against the upstream")
}

func TestResponseTooLarge(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/declared" {
			w.Header().Set("Content-Length", "100")
		}
		_, _ = io.WriteString(w, strings.Repeat("x", 50))
		http.NewResponseController(w).Flush() // no Content-Length: the cap applies while reading
		_, _ = io.WriteString(w, strings.Repeat("x", 50))
	})
	c := newClient(t, clients.Config{BaseURL: u.URL, MaxResponseBytes: 10})
	req, _ := c.NewRequest(t.Context(), http.MethodGet, "/declared", nil)
	_, err := c.Do(req)
	require.ErrorIs(t, err, clients.ErrResponseTooLarge)

	req, _ = c.NewRequest(t.Context(), http.MethodGet, "/streamed", nil)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, clients.ErrResponseTooLarge)
	assert.Len(t, b, 10)

	c = newClient(t, clients.Config{BaseURL: u.URL, MaxResponseBytes: 100})
	req, _ = c.NewRequest(t.Context(), http.MethodGet, "/streamed", nil)
	resp, err = c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err = io.ReadAll(resp.Body)
	require.NoError(t, err, "a body of exactly the cap is fine")
	assert.Len(t, b, 100)
}

func TestProblemDecoded(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusPaymentRequired)
		_, _ = io.WriteString(w, `{"type":"https://pay.example/card-declined","title":"Card declined","status":402,"detail":"insufficient funds"}`)
	})
	c := newClient(t, clients.Config{Name: "payments", BaseURL: u.URL})
	req, _ := c.NewRequest(t.Context(), http.MethodGet, "/charges/1?secret=s", nil)
	_, err := c.Do(req)
	var e *clients.Error
	require.ErrorAs(t, err, &e)
	assert.ErrorIs(t, err, clients.ErrStatus)
	assert.ErrorIs(t, err, clients.ErrUpstream)
	assert.Equal(t, http.StatusPaymentRequired, e.Status)
	require.NotNil(t, e.Problem)
	assert.Equal(t, "Card declined", e.Problem.Title)
	assert.Equal(t, "insufficient funds", e.Problem.Detail)
	assert.Equal(t, 1, e.Attempts)
	assert.NotContains(t, err.Error(), "secret", "the query is not in the error")
	assert.Contains(t, err.Error(), "payments")
}

func TestRedirectsOffByDefault(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "new")
	})
	c := newClient(t, clients.Config{BaseURL: u.URL})
	req, _ := c.NewRequest(t.Context(), http.MethodGet, "/old", nil)
	resp, err := c.HTTPClient().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusFound, resp.StatusCode)

	c = newClient(t, clients.Config{BaseURL: u.URL, MaxRedirects: 3})
	req, _ = c.NewRequest(t.Context(), http.MethodGet, "/old", nil)
	resp, err = c.HTTPClient().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]clients.Config{
		"relative base":   {BaseURL: "/v1"},
		"ftp base":        {BaseURL: "ftp://x"},
		"delays":          {Retry: clients.RetryConfig{BaseDelay: time.Second, MaxDelay: time.Millisecond}},
		"redirects":       {MaxRedirects: -1},
		"guard transport": {Guard: &clients.Guard{}, Transport: roundTripFunc(nil)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := clients.New(cfg)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "clients: invalid config"), err.Error())
		})
	}
	_, err := clients.New(clients.Config{})
	require.NoError(t, err, "the zero Config works")
}

// TestTimedOutAttemptOfAGoneCallerIsNoSuccess: a transport that answers only after the
// attempt timed out and the caller left must not turn into a successful call with a closed
// body; the caller hears its context's error.
func TestTimedOutAttemptOfAGoneCallerIsNoSuccess(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	late := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done() // the attempt timeout fires
		cancel()             // and the caller gives up before the answer arrives
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	})
	c := newClient(t, clients.Config{Transport: late, AttemptTimeout: 20 * time.Millisecond,
		Breaker: clients.BreakerConfig{Failures: 1, OpenFor: time.Hour}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://upstream.test/", nil)
	resp, err := c.Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, resp)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
