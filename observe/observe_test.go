package observe_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate-dev/tollgate/observe"
)

// TestDefaults runs the zero-config pipeline end to end: SDK providers, the stdout span
// exporter and Prometheus exposition.
func TestDefaults(t *testing.T) {
	t.Parallel()
	var spans, logs syncBuffer
	obs, err := observe.New(context.Background(), observe.Config{
		Service: "delivery", Version: "1.2.3", Environment: "test",
		TraceWriter: &spans, LogWriter: &logs, AccessLog: true,
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	obs.Mount(mux)
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := obs.Handler(mux)
	serve(h, httptest.NewRequest(http.MethodGet, "/items/1", nil))

	w := serve(h, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, w.Code)
	metrics := w.Body.String()
	for _, want := range []string{
		`http_server_requests_total{operation="GET /items/{id}",otel_scope_name="github.com/tollgate-dev/tollgate/observe"`,
		`http_server_request_duration_seconds_bucket{operation="GET /items/{id}"`,
		`status_class="2xx"`,
		`service_name="delivery"`,
		`service_version="1.2.3"`,
		`deployment_environment_name="test"`,
		`go_goroutines`,
	} {
		assert.Contains(t, metrics, want)
	}
	assert.NotContains(t, metrics, "/items/1", "raw paths never become labels")

	require.NoError(t, obs.Shutdown(context.Background()))
	assert.Contains(t, spans.String(), `"Name":"GET /items/{id}"`, "Shutdown flushes batched spans")
	assert.Contains(t, spans.String(), `"Value":"delivery"`)
	assert.Regexp(t, `"msg":"request",.*"trace_id":"[0-9a-f]{32}"`, logs.String())
	assert.Contains(t, logs.String(), `"operation":"GET /items/{id}","method":"GET","path":"/items/1","status":200`)
}

func TestNewRejectsNegativeTimeouts(t *testing.T) {
	t.Parallel()
	for _, cfg := range []observe.Config{
		{ShutdownTimeout: -1}, {FlushTimeout: -1}, {CheckTimeout: -1},
	} {
		_, err := observe.New(context.Background(), withQuietLogs(cfg))
		require.Error(t, err)
	}
	_, err := observe.New(context.Background(), withQuietLogs(observe.Config{DrainDelay: -1}))
	require.NoError(t, err, "a negative drain delay means none")
	_, err = observe.New(context.Background(), withQuietLogs(observe.Config{SpanExporters: make([]sdktrace.SpanExporter, 1)}))
	require.Error(t, err)
}

func TestPprofHandler(t *testing.T) {
	t.Parallel()
	h := observe.PprofHandler()
	cases := []struct {
		path   string
		status int
		want   string
	}{
		{"/debug/pprof/", 200, "goroutine"},
		{"/debug/pprof/goroutine?debug=1", 200, "goroutine profile"},
		{"/debug/pprof/heap", 200, ""},
		{"/debug/pprof/nope", 404, ""},
		{"/debug/pprof/profile?seconds=61", 400, ""},
		{"/debug/pprof/cmdline", 404, ""},
	}
	for _, c := range cases {
		w := serve(h, httptest.NewRequest(http.MethodGet, c.path, nil))
		assert.Equal(t, c.status, w.Code, c.path)
		assert.Contains(t, w.Body.String(), c.want, c.path)
	}
	w := serve(h, httptest.NewRequest(http.MethodGet, "/debug/pprof/profile?seconds=1", nil))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.NotEmpty(t, w.Body.Bytes())
}

func TestPprofNotOnDefaultMux(t *testing.T) {
	t.Parallel()
	w := serve(http.DefaultServeMux, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	assert.Equal(t, http.StatusNotFound, w.Code, "importing observe must not expose profiles")
}

func withQuietLogs(c observe.Config) observe.Config {
	c.LogWriter = io.Discard
	return c
}

// TestUnsampledRequestsStillCorrelate: with nothing sampled, no span is exported, yet logs
// carry the trace id a downstream service would continue.
func TestUnsampledRequestsStillCorrelate(t *testing.T) {
	t.Parallel()
	var spans, logs syncBuffer
	obs, err := observe.New(context.Background(), observe.Config{
		Sampler: sdktrace.NeverSample(), TraceWriter: &spans, LogWriter: &logs,
	})
	require.NoError(t, err)
	h := obs.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs.Logger().InfoContext(r.Context(), "handled")
	}))
	serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
	require.NoError(t, obs.Shutdown(context.Background()))
	assert.Empty(t, spans.String())
	assert.Regexp(t, `"msg":"handled","trace_id":"[0-9a-f]{32}","span_id":"[0-9a-f]{16}","request_id":"[0-9a-f]{32}"`, logs.String())
}

func TestConfigLoggerIsWrapped(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	base := slog.New(slog.NewTextHandler(&buf, nil)).With("component", "api")
	obs, err := observe.New(context.Background(), observe.Config{Logger: base})
	require.NoError(t, err)
	h := obs.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs.Logger().InfoContext(r.Context(), "handled")
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(observe.RequestIDHeader, "abc-123")
	serve(h, r)
	assert.Contains(t, buf.String(), "msg=handled component=api trace_id=")
	assert.Contains(t, buf.String(), "request_id=abc-123")
}

func TestAccessorsReturnSuppliedProviders(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	mp := sdkmetric.NewMeterProvider()
	prop := propagation.TraceContext{}
	obs, err := observe.New(context.Background(), observe.Config{
		TracerProvider: tp, MeterProvider: mp, Propagator: prop, LogWriter: io.Discard,
	})
	require.NoError(t, err)
	assert.Same(t, tp, obs.TracerProvider())
	assert.Same(t, mp, obs.MeterProvider())
	assert.Equal(t, prop, obs.Propagator())
	require.NoError(t, obs.Shutdown(context.Background()))
	_, span := tp.Tracer("t").Start(context.Background(), "after")
	assert.True(t, span.IsRecording(), "a supplied provider is not shut down by the Observer")

	def, err := observe.New(context.Background(), observe.Config{LogWriter: io.Discard})
	require.NoError(t, err)
	assert.IsType(t, &sdktrace.TracerProvider{}, def.TracerProvider())
	assert.IsType(t, &sdkmetric.MeterProvider{}, def.MeterProvider())
	require.NoError(t, def.Shutdown(context.Background()))
	_, span = def.TracerProvider().Tracer("t").Start(context.Background(), "after")
	assert.False(t, span.IsRecording(), "an owned provider is shut down")
}

func TestForceFlush(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	obs, err := observe.New(context.Background(), observe.Config{Service: "t", SpanExporters: []sdktrace.SpanExporter{exp}, Sampler: sdktrace.AlwaysSample()})
	require.NoError(t, err)
	defer obs.Shutdown(context.Background())
	_, span := obs.TracerProvider().Tracer("t").Start(context.Background(), "op")
	span.End()
	require.NoError(t, obs.ForceFlush(context.Background()))
	assert.Len(t, exp.GetSpans(), 1, "exported without a shutdown")
}
