package chaostest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/clients"
)

// proxied is an upstream reached through a toxiproxy.
type proxied struct {
	proxy *toxiproxy.Proxy
	url   string
	hits  atomic.Int64
}

func newProxied(t *testing.T, h http.HandlerFunc) *proxied {
	t.Helper()
	p := &proxied{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	api.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	p.proxy = toxiproxy.NewProxy(api, t.Name(), "127.0.0.1:0", srv.Listener.Addr().String())
	require.NoError(t, p.proxy.Start())
	t.Cleanup(p.proxy.Stop)
	p.url = "http://" + p.proxy.Listen
	return p
}

// toxic adds a toxic and returns a function that removes it.
func (p *proxied) toxic(t *testing.T, name, typ, stream string, attrs string) func() {
	t.Helper()
	_, err := p.proxy.Toxics.AddToxicJson(strings.NewReader(fmt.Sprintf(
		`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, typ, stream, attrs)))
	require.NoError(t, err)
	return func() { require.NoError(t, p.proxy.Toxics.RemoveToxic(context.Background(), name)) }
}

func (p *proxied) host() string { return strings.TrimPrefix(p.url, "http://") }

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

func call(t *testing.T, c *clients.Client, ctx context.Context, method, url string) (int, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader("{}"))
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return resp.StatusCode, err
}

func fastClient(t *testing.T, cfg clients.Config) *clients.Client {
	t.Helper()
	cfg.Retry.BaseDelay, cfg.Retry.MaxDelay = time.Millisecond, 5*time.Millisecond
	cfg.Retry.Budget.Ratio = -1
	c, err := clients.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestLatencyBeyondAttemptTimeout(t *testing.T) {
	t.Parallel()
	p := newProxied(t, ok)
	c := fastClient(t, clients.Config{AttemptTimeout: 100 * time.Millisecond})
	remove := p.toxic(t, "slow", "latency", "downstream", `{"latency":400}`)

	_, err := call(t, c, t.Context(), http.MethodGet, p.url)
	require.ErrorIs(t, err, clients.ErrAttemptTimeout)
	var e *clients.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, clients.DefaultMaxAttempts, e.Attempts)

	// The caller's deadline is shorter than one attempt: it wins, and the breaker does not
	// hold the caller's impatience against the upstream.
	for range clients.DefaultBreakerFailures + 1 {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		_, err = call(t, c, ctx, http.MethodGet, p.url)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	assert.Equal(t, clients.StateClosed, c.BreakerState(p.host()))

	remove()
	status, err := call(t, c, t.Context(), http.MethodGet, p.url)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
}

func TestLatencyWithinAttemptTimeout(t *testing.T) {
	t.Parallel()
	p := newProxied(t, ok)
	c := fastClient(t, clients.Config{AttemptTimeout: 2 * time.Second})
	p.toxic(t, "slow", "latency", "downstream", `{"latency":100,"jitter":50}`)
	for range 5 {
		status, err := call(t, c, t.Context(), http.MethodGet, p.url)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)
	}
	assert.EqualValues(t, 5, p.hits.Load(), "slow but in time: no retries")
}

func TestResets(t *testing.T) {
	t.Parallel()
	p := newProxied(t, ok)
	c := fastClient(t, clients.Config{Breaker: clients.BreakerConfig{Failures: 3, OpenFor: 200 * time.Millisecond}})
	// The upstream reads the request, then the connection is reset before the answer.
	remove := p.toxic(t, "reset", "reset_peer", "downstream", `{"timeout":0}`)

	_, err := call(t, c, t.Context(), http.MethodPost, p.url)
	var e *clients.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 1, e.Attempts, "a POST without a key may have been processed: not repeated")

	_, err = call(t, c, t.Context(), http.MethodPut, p.url)
	require.ErrorAs(t, err, &e)
	assert.Equal(t, clients.DefaultMaxAttempts, e.Attempts, "a PUT is repeated")

	_, err = call(t, c, t.Context(), http.MethodGet, p.url)
	require.Error(t, err)
	assert.Equal(t, clients.StateOpen, c.BreakerState(p.host()), "three failed calls open the breaker")

	before := p.hits.Load()
	_, err = call(t, c, t.Context(), http.MethodGet, p.url)
	require.ErrorIs(t, err, clients.ErrCircuitOpen)
	assert.Equal(t, before, p.hits.Load(), "an open breaker sends nothing")

	remove()
	require.Eventually(t, func() bool {
		status, err := call(t, c, t.Context(), http.MethodGet, p.url)
		return err == nil && status == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "the breaker half-opens, the probe succeeds")
	assert.Equal(t, clients.StateClosed, c.BreakerState(p.host()))
}

func TestUpstreamDown(t *testing.T) {
	t.Parallel()
	p := newProxied(t, ok)
	c := fastClient(t, clients.Config{})
	p.proxy.Stop() // connection refused: nothing was sent, so even a POST is retried
	_, err := call(t, c, t.Context(), http.MethodPost, p.url)
	var e *clients.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, clients.DefaultMaxAttempts, e.Attempts)
	var op *net.OpError
	assert.ErrorAs(t, err, &op)
}

func TestNoGoroutineLeak(t *testing.T) {
	p := newProxied(t, ok)
	c := fastClient(t, clients.Config{AttemptTimeout: 50 * time.Millisecond})
	remove := p.toxic(t, "stall", "timeout", "downstream", `{"timeout":0}`)
	before := runtime.NumGoroutine()
	for range 10 {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		_, err := call(t, c, ctx, http.MethodGet, p.url)
		cancel()
		require.Error(t, err)
	}
	remove()
	c.CloseIdleConnections()
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, 10*time.Second, 20*time.Millisecond,
		"goroutines: before %d, now %d", before, runtime.NumGoroutine())
}

// TestHTTP2OverTLS: the attempt timeout and the retry work the same over HTTP/2, where
// attempts share one connection: the hung stream is abandoned, not the connection.
func TestHTTP2OverTLS(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := fastClient(t, clients.Config{Transport: srv.Client().Transport, AttemptTimeout: 100 * time.Millisecond})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/2.0", string(body))
	assert.EqualValues(t, 2, n.Load())
}
