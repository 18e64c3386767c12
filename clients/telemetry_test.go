package clients_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tollgate-dev/tollgate/clients"
)

func TestTelemetry(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	var mu sync.Mutex
	var parents []string
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		parents = append(parents, r.Header.Get("Traceparent"))
		mu.Unlock()
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c := newClient(t, clients.Config{Name: "sms", BaseURL: u.URL, TracerProvider: tp, MeterProvider: mp,
		Propagator: propagation.TraceContext{}})

	ctx, parent := tp.Tracer("test").Start(t.Context(), "parent")
	req, _ := c.NewRequest(ctx, http.MethodGet, "/v1/messages?token=secret", nil)
	req.Header.Set("X-Caller", "kept")
	resp, err := c.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	parent.End()
	assert.Empty(t, req.Header.Get("Traceparent"), "the caller's headers are not modified")

	ended := spans.Ended()
	require.Len(t, ended, 2)
	span := ended[0]
	assert.Equal(t, "GET", span.Name())
	assert.Equal(t, trace.SpanKindClient, span.SpanKind())
	assert.Equal(t, parent.SpanContext().TraceID(), span.SpanContext().TraceID())
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range span.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	assert.Equal(t, "GET", attrs["http.request.method"].AsString())
	assert.Equal(t, "127.0.0.1", attrs["server.address"].AsString())
	assert.NotContains(t, attrs["url.full"].AsString(), "secret")
	assert.EqualValues(t, 204, attrs["http.response.status_code"].AsInt64())
	assert.EqualValues(t, 1, attrs["http.request.resend_count"].AsInt64())
	assert.Equal(t, "sms", attrs["service.peer.name"].AsString())
	var events []string
	for _, e := range span.Events() {
		events = append(events, e.Name)
	}
	assert.Equal(t, []string{"attempt", "retry", "attempt"}, events)
	require.Len(t, parents, 2)
	for _, p := range parents {
		assert.Contains(t, p, span.SpanContext().SpanID().String(), "traceparent names the client span")
	}

	assert.Equal(t, map[string]int64{
		"tollgate.client.attempts/ok":           1,
		"tollgate.client.attempts/status_error": 1,
		"tollgate.client.retries/":              1,
		"tollgate.client.breaker.state/":        0,
	}, collect(t, reader))
}

func TestBreakerRejectionMetricAndEvent(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c := newClient(t, clients.Config{BaseURL: u.URL, TracerProvider: tp, MeterProvider: mp,
		Retry: clients.RetryConfig{MaxAttempts: 1}, Breaker: clients.BreakerConfig{Failures: 1, OpenFor: time.Hour}})
	_, err := get(t, c, t.Context())
	require.NoError(t, err)
	ctx, parent := tp.Tracer("test").Start(t.Context(), "parent")
	_, err = get(t, c, ctx)
	require.ErrorIs(t, err, clients.ErrCircuitOpen)
	parent.End()
	ended := spans.Ended()
	require.Len(t, ended, 2, "the rejected call has no span of its own")
	require.Len(t, ended[1].Events(), 1)
	assert.Equal(t, "circuit open", ended[1].Events()[0].Name)

	found := collect(t, reader)
	assert.EqualValues(t, 1, found["tollgate.client.breaker.rejections/"])
	assert.EqualValues(t, 2, found["tollgate.client.breaker.state/"], "open")
}

// collect reads the metrics as "name/outcome" -> sum (counters) or last value (gauges).
func collect(t *testing.T, reader sdkmetric.Reader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
			for _, p := range points {
				outcome, _ := p.Attributes.Value("tollgate.outcome")
				got[m.Name+"/"+outcome.AsString()] += p.Value
			}
		}
	}
	return got
}

// TestGlobalTracerInstalledLater: a Client built before the application installs its
// tracing SDK starts no spans until then, and traces once it is installed. Not parallel:
// it sets the otel global provider.
func TestGlobalTracerInstalledLater(t *testing.T) {
	_, isNoop := otel.GetTracerProvider().(noop.TracerProvider)
	if _, probe := otel.Tracer("probe").Start(context.Background(), "probe"); isNoop || probe.SpanContext().IsValid() {
		t.Skip("a global tracer provider is already installed")
	}
	u := newUpstream(t, func(http.ResponseWriter, *http.Request) {})
	c := newClient(t, clients.Config{BaseURL: u.URL})
	_, err := get(t, c, t.Context())
	require.NoError(t, err)

	spans := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	_, err = get(t, c, t.Context())
	require.NoError(t, err)
	require.Len(t, spans.Ended(), 1)
	assert.Equal(t, "GET", spans.Ended()[0].Name())
}
