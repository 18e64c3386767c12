package observe_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/observe"
)

func TestReadiness(t *testing.T) {
	t.Parallel()
	rg := newRig(t, func(c *observe.Config) { c.CheckTimeout = 50 * time.Millisecond })
	var dbDown atomic.Bool
	rg.obs.AddChecker("db", observe.CheckerFunc(func(ctx context.Context) error {
		if dbDown.Load() {
			return errors.New("connection refused to 10.0.0.7")
		}
		return nil
	}))
	var slowHangs atomic.Bool
	rg.obs.AddChecker("slow", observe.CheckerFunc(func(ctx context.Context) error {
		if slowHangs.Load() {
			<-ctx.Done() // a check that hangs is cut off by CheckTimeout
		}
		return nil // after the deadline, nil is no longer ok
	}))
	rg.obs.AddChecker("nil", nil)
	mux := http.NewServeMux()
	rg.obs.Mount(mux)

	probe := func(path string) (int, string) {
		w := serve(mux, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code, w.Body.String()
	}
	code, body := probe("/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "[+]db ok\n[+]slow ok\nok\n", body)

	slowHangs.Store(true)
	code, body = probe("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "[+]db ok\n[-]slow failed\nnot ready\n", body)
	slowHangs.Store(false)

	dbDown.Store(true)
	code, body = probe("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "[-]db failed\n[+]slow ok\nnot ready\n", body)
	assert.NotContains(t, body, "10.0.0.7", "failure details go to the log only")
	assert.Contains(t, rg.logs.String(), "10.0.0.7")
	code, _ = probe("/livez")
	assert.Equal(t, http.StatusOK, code, "liveness ignores dependencies")

	dbDown.Store(false)
	require.True(t, rg.obs.Ready(context.Background()))
	require.NoError(t, rg.obs.Shutdown(context.Background()))
	code, body = probe("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "shutting down\n", body)
	assert.False(t, rg.obs.Ready(context.Background()))
	code, _ = probe("/livez")
	assert.Equal(t, http.StatusOK, code)
}

// TestCheckerIgnoringContextCannotHoldReadiness: a check that never returns is abandoned
// once CheckTimeout has passed, and the probe answers 503 rather than hanging.
func TestCheckerIgnoringContextCannotHoldReadiness(t *testing.T) {
	t.Parallel()
	rg := newRig(t, func(c *observe.Config) { c.CheckTimeout = 50 * time.Millisecond })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	rg.obs.AddChecker("stuck", observe.CheckerFunc(func(context.Context) error {
		<-release
		return nil
	}))
	answered := make(chan *httptest.ResponseRecorder, 1)
	go func() { answered <- serve(rg.obs.ReadyzHandler(), httptest.NewRequest(http.MethodGet, "/readyz", nil)) }()
	select {
	case w := <-answered:
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, "[-]stuck failed\nnot ready\n", w.Body.String())
	case <-time.After(5 * time.Second):
		t.Fatal("/readyz waited for a check that ignores its context")
	}
}

func TestPanickingCheckerFailsReadiness(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	rg.obs.AddChecker("bad", observe.CheckerFunc(func(context.Context) error { panic("oops") }))
	w := serve(rg.obs.ReadyzHandler(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
}

func TestShutdownRunsHooksInReverseOnce(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	var order []string
	rg.obs.OnShutdown(func(context.Context) error { order = append(order, "first"); return nil })
	rg.obs.OnShutdown(func(ctx context.Context) error {
		order = append(order, "second")
		_, ok := ctx.Deadline()
		assert.True(t, ok, "hooks get the flush deadline")
		return errors.New("sink unreachable")
	})
	rg.obs.OnShutdown(nil)
	err := rg.obs.Shutdown(context.Background())
	require.ErrorContains(t, err, "sink unreachable")
	assert.Equal(t, []string{"second", "first"}, order)
	assert.Equal(t, err, rg.obs.Shutdown(context.Background()), "later calls return the first result")
	assert.Equal(t, []string{"second", "first"}, order)
}

// TestServeGracefulShutdown is SIGTERM during a slow request: readiness turns 503 while the
// request is still running, the request completes, hooks run after it, and Serve returns
// nil well inside the budget.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	const drain = 2 * time.Second
	rg := newRig(t, func(c *observe.Config) { c.DrainDelay = drain })
	started, release := make(chan struct{}), make(chan struct{})
	var slowDone, hookAfterSlow atomic.Bool
	mux := http.NewServeMux()
	rg.obs.Mount(mux)
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = w.Write([]byte("done"))
		slowDone.Store(true)
	})
	rg.obs.OnShutdown(func(context.Context) error { hookAfterSlow.Store(slowDone.Load()); return nil })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &http.Server{Handler: rg.obs.Handler(mux)}
	served := make(chan error, 1)
	go func() { served <- rg.obs.ServeListener(ctx, srv, ln) }()

	slow := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		assert.NoError(t, err)
		slow <- resp
	}()
	<-started
	require.Equal(t, http.StatusOK, get(t, base+"/readyz"))

	cancel() // SIGTERM
	require.Eventually(t, func() bool { return get(t, base+"/readyz") == http.StatusServiceUnavailable }, drain, tick,
		"readiness flips while the listener is still open")
	require.False(t, slowDone.Load())

	stopping := time.Now()
	close(release)
	resp := <-slow
	require.NotNil(t, resp)
	body, err := readAll(resp)
	require.NoError(t, err)
	assert.Equal(t, "done", string(body), "the in-flight request completes")
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(observe.DefaultShutdownTimeout):
		t.Fatal("Serve did not return")
	}
	assert.Less(t, time.Since(stopping), drain+5*time.Second)
	assert.True(t, hookAfterSlow.Load(), "hooks run after in-flight requests finished")
	assert.Equal(t, observe.DefaultReadHeaderTimeout, srv.ReadHeaderTimeout)
	assert.Equal(t, observe.DefaultReadTimeout, srv.ReadTimeout)
	assert.Equal(t, observe.DefaultIdleTimeout, srv.IdleTimeout)
	assert.Equal(t, observe.DefaultMaxHeaderBytes, srv.MaxHeaderBytes)
	for _, msg := range []string{"serving", "draining", "shutting down", "flushing"} {
		assert.Contains(t, rg.logs.String(), `"msg":"`+msg+`"`)
	}
}

func TestServeShutdownTimeoutCutsStragglers(t *testing.T) {
	t.Parallel()
	rg := newRig(t, func(c *observe.Config) { c.ShutdownTimeout = 50 * time.Millisecond })
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	var hookRan atomic.Bool
	rg.obs.OnShutdown(func(context.Context) error { hookRan.Store(true); return nil })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	}), ReadTimeout: time.Minute}
	served := make(chan error, 1)
	go func() { served <- rg.obs.ServeListener(ctx, srv, ln) }()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	select {
	case err := <-served:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return")
	}
	assert.True(t, hookRan.Load(), "flush hooks run even when requests had to be cut")
	assert.Equal(t, time.Minute, srv.ReadTimeout, "explicit settings are kept")
}

func TestServeListenError(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	err := rg.obs.Serve(context.Background(), &http.Server{Addr: "127.0.0.1:-1"})
	require.ErrorContains(t, err, "listen")
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_, _ = readAll(resp)
	return resp.StatusCode
}

func TestServeOnAddr(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- rg.obs.Serve(ctx, &http.Server{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler()})
	}()
	require.Eventually(t, func() bool { return strings.Contains(rg.logs.String(), `"msg":"serving","addr":"127.0.0.1:`) },
		testTimeout, tick)
	cancel()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return")
	}
}
