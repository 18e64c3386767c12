package clients

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// instrumentationName is the otel scope of the spans and metrics.
const instrumentationName = "github.com/tollgate-dev/tollgate/clients"

// Metric names.
const (
	metricAttempts         = "tollgate.client.attempts"
	metricRetries          = "tollgate.client.retries"
	metricBudgetExhausted  = "tollgate.client.retry_budget.exhausted"
	metricBreakerRejected  = "tollgate.client.breaker.rejections"
	metricBreakerState     = "tollgate.client.breaker.state"
	attrUpstream           = attribute.Key("tollgate.upstream")
	attrOutcome            = attribute.Key("tollgate.outcome")
	attrAttempt            = attribute.Key("tollgate.attempt")
	attrWait               = attribute.Key("tollgate.retry.wait_ms")
	outcomeOK, outcomeHTTP = "ok", "status_error"
	outcomeTransport       = "transport_error"
)

// telemetry holds the instruments and the attribute sets computed once, so recording on the
// hot path allocates nothing beyond what the SDK itself needs.
type telemetry struct {
	tracer trace.Tracer
	// spanless is set for a noop provider, and globalNoop holds the otel global provider
	// while it has no SDK behind it: spans would then be no-ops, yet starting one costs
	// allocations on every call, so none is started.
	spanless   bool
	globalNoop trace.TracerProvider
	meter      metric.Meter
	propagator propagation.TextMapPropagator
	startOpts  []trace.SpanStartOption
	upstream   attribute.KeyValue

	attempts, retries, exhausted, rejected metric.Int64Counter
	state                                  metric.Int64ObservableGauge

	// Option slices built once: passing a fresh variadic slice through the instrument
	// interfaces would allocate on every call.
	okOpt, httpOpt, transportOpt, upstreamOpt []metric.AddOption
}

func newTelemetry(cfg *Config, name string) (*telemetry, error) {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	prop := cfg.Propagator
	if prop == nil {
		prop = otel.GetTextMapPropagator()
	}
	t := &telemetry{
		tracer:     tp.Tracer(instrumentationName),
		propagator: prop,
		startOpts:  []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)},
		upstream:   attrUpstream.String(name),
	}
	if _, ok := tp.(noop.TracerProvider); ok {
		t.spanless = true
	} else if cfg.TracerProvider == nil {
		// An SDK span always has a valid context, sampled or not; the global provider's
		// placeholder span has none until an SDK is installed.
		if _, probe := t.tracer.Start(context.Background(), "probe"); !probe.SpanContext().IsValid() && !probe.IsRecording() {
			t.globalNoop = tp
		}
	}
	m := mp.Meter(instrumentationName)
	t.meter = m
	for _, c := range []struct {
		dst        *metric.Int64Counter
		name, unit string
		desc       string
	}{
		{&t.attempts, metricAttempts, "{attempt}", "Attempts sent to the upstream, by outcome."},
		{&t.retries, metricRetries, "{retry}", "Retries made after a failed attempt."},
		{&t.exhausted, metricBudgetExhausted, "{retry}", "Retries not made because the retry budget was empty."},
		{&t.rejected, metricBreakerRejected, "{call}", "Calls rejected by an open circuit breaker."},
	} {
		var err error
		if *c.dst, err = m.Int64Counter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.desc)); err != nil {
			return nil, err
		}
	}
	var err error
	if t.state, err = m.Int64ObservableGauge(metricBreakerState, metric.WithUnit("1"),
		metric.WithDescription("Circuit breaker state per upstream host: 0 closed, 1 half-open, 2 open.")); err != nil {
		return nil, err
	}
	set := func(kv ...attribute.KeyValue) []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(append([]attribute.KeyValue{t.upstream}, kv...)...))}
	}
	t.okOpt = set(attrOutcome.String(outcomeOK))
	t.httpOpt = set(attrOutcome.String(outcomeHTTP))
	t.transportOpt = set(attrOutcome.String(outcomeTransport))
	t.upstreamOpt = set()
	return t, nil
}

// noSpan stands in for the span of a call when tracing is off.
var noSpan = trace.SpanFromContext(context.Background())

// start opens the span of a logical call. Attributes are only built for a recording span.
func (t *telemetry) start(ctx context.Context, req *http.Request) (context.Context, trace.Span) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if t.spanless || t.globalNoop != nil && otel.GetTracerProvider() == t.globalNoop {
		return ctx, noSpan
	}
	ctx, span := t.tracer.Start(ctx, method, t.startOpts...)
	if span.IsRecording() {
		attrs := []attribute.KeyValue{
			semconv.HTTPRequestMethodKey.String(method),
			semconv.ServerAddress(req.URL.Hostname()),
			semconv.URLFull(redactURL(req)),
			semconv.ServicePeerName(t.upstream.Value.AsString()),
			t.upstream,
		}
		if p, err := strconv.Atoi(req.URL.Port()); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
		span.SetAttributes(attrs...)
	}
	return ctx, span
}

// inject writes the trace context into h. It reports false when there is nothing to
// propagate, so the caller can skip copying the request headers.
func (t *telemetry) shouldInject(ctx context.Context) bool {
	return trace.SpanContextFromContext(ctx).IsValid() || baggage.FromContext(ctx).Len() > 0
}

func (t *telemetry) attempt(ctx context.Context, span trace.Span, n int, resp *http.Response, err error) {
	switch {
	case err != nil:
		t.attempts.Add(ctx, 1, t.transportOpt...)
	case resp.StatusCode >= 400:
		t.attempts.Add(ctx, 1, t.httpOpt...)
	default:
		t.attempts.Add(ctx, 1, t.okOpt...)
	}
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attrAttempt.Int(n)}
	if err != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(err)))
	} else {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(resp.StatusCode))
	}
	span.AddEvent("attempt", trace.WithAttributes(attrs...))
}

func (t *telemetry) retry(ctx context.Context, span trace.Span, wait time.Duration) {
	t.retries.Add(ctx, 1, t.upstreamOpt...)
	if span.IsRecording() {
		span.AddEvent("retry", trace.WithAttributes(attrWait.Int64(wait.Milliseconds())))
	}
}

func (t *telemetry) budgetExhausted(ctx context.Context, span trace.Span) {
	t.exhausted.Add(ctx, 1, t.upstreamOpt...)
	if span.IsRecording() {
		span.AddEvent("retry budget exhausted")
	}
}

func (t *telemetry) breakerRejected(ctx context.Context) {
	t.rejected.Add(ctx, 1, t.upstreamOpt...)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("circuit open", trace.WithAttributes(t.upstream))
	}
}

// end closes the span of a logical call.
func (t *telemetry) end(span trace.Span, attempts int, resp *http.Response, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if attempts > 1 {
		span.SetAttributes(semconv.HTTPRequestResendCount(attempts - 1))
	}
	switch {
	case err != nil:
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
		span.SetStatus(codes.Error, err.Error())
	case resp != nil:
		span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
		if resp.StatusCode >= 500 {
			span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
			span.SetStatus(codes.Error, "")
		}
	}
	span.End()
}

// errorType names an error for the error.type attribute: the sentinel it matches when it
// is one of ours, else a low-cardinality description.
func errorType(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{ErrCircuitOpen, "circuit_open"},
		{ErrRetryBudgetExhausted, "retry_budget_exhausted"},
		{ErrAttemptTimeout, "attempt_timeout"},
		{ErrBlockedAddress, "blocked_address"},
		{ErrResponseTooLarge, "response_too_large"},
		{context.Canceled, "canceled"},
		{context.DeadlineExceeded, "deadline_exceeded"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	if isDialError(err) {
		return "connect"
	}
	return "_OTHER"
}

// observeBreakers reports the state of every breaker of c.
func (c *Client) observeBreakers(_ context.Context, o metric.Observer) error {
	c.breakers.each(func(host string, st State) {
		o.ObserveInt64(c.tel.state, stateValue(st), metric.WithAttributes(c.tel.upstream, semconv.ServerAddress(host)))
	})
	return nil
}
