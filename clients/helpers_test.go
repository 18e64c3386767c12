package clients_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/clients"
)

// upstream is a local test server that counts the requests it gets.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// fastRetries keeps backoff short so tests do not wait on it.
func fastRetries(cfg clients.Config) clients.Config {
	if cfg.Retry.BaseDelay == 0 {
		cfg.Retry.BaseDelay = time.Millisecond
	}
	if cfg.Retry.MaxDelay == 0 {
		cfg.Retry.MaxDelay = 5 * time.Millisecond
	}
	if cfg.Retry.Budget.Ratio == 0 {
		cfg.Retry.Budget.Ratio = -1 // most tests are about one call, not about the budget
	}
	return cfg
}

func newClient(t *testing.T, cfg clients.Config) *clients.Client {
	t.Helper()
	c, err := clients.New(fastRetries(cfg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// reset closes the connection without answering, with SO_LINGER 0 so the client sees a
// reset rather than a clean close.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func runtimeGoroutines() int { return runtime.NumGoroutine() }

// bodies records the request bodies an upstream receives and answers them with status.
type bodies struct {
	mu  sync.Mutex
	got []string
}

func (b *bodies) handler(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.got = append(b.got, string(body))
		b.mu.Unlock()
		w.WriteHeader(status)
	}
}

func (b *bodies) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.got...)
}
