package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Default durations of the shutdown sequence. Together they stay under the 30 s that
// Kubernetes grants between SIGTERM and SIGKILL (terminationGracePeriodSeconds).
const (
	DefaultDrainDelay      = 5 * time.Second
	DefaultShutdownTimeout = 15 * time.Second
	DefaultFlushTimeout    = 5 * time.Second
	DefaultCheckTimeout    = 2 * time.Second
)

// Config configures an [Observer]. The zero value works: an OpenTelemetry SDK tracer provider
// that exports nothing, an SDK meter provider read by a Prometheus registry served at
// [Observer.MetricsHandler], and JSON logs on standard output.
type Config struct {
	// Service, Version and Environment name the service in every span and metric (the
	// resource attributes service.name, service.version and deployment.environment.name).
	// Empty fields are left to the OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// environment variables, then to OpenTelemetry's "unknown_service" default.
	Service     string
	Version     string
	Environment string
	// ResourceAttributes are added to the resource (for example k8s.pod.name).
	ResourceAttributes []attribute.KeyValue

	// TracerProvider is used as is when set: the Observer neither configures nor shuts it
	// down. Nil builds an SDK provider from Sampler, TraceWriter and SpanExporters, which the
	// Observer flushes and shuts down in Shutdown. Setting it together with any of those is
	// an error, since they would be silently ignored.
	TracerProvider trace.TracerProvider
	// Sampler decides which traces are recorded. Nil keeps the SDK default: parent-based,
	// always sampling root spans, overridable with OTEL_TRACES_SAMPLER.
	Sampler sdktrace.Sampler
	// TraceWriter, when set, receives every finished span as JSON (the OpenTelemetry stdout
	// exporter, batched). Useful in development; nil exports no spans to a writer.
	TraceWriter io.Writer
	// SpanExporters receive finished spans through batching processors (see the
	// observe/otlp module for OTLP).
	SpanExporters []sdktrace.SpanExporter

	// MeterProvider is used as is when set: the Observer neither configures nor shuts it
	// down, and MetricsHandler serves only Registry's own collectors. Nil builds an SDK
	// provider whose metrics MetricsHandler serves in the Prometheus format, plus any
	// MetricReaders.
	MeterProvider metric.MeterProvider
	// MetricReaders are added to the SDK meter provider (for example a periodic OTLP reader).
	// Setting them together with MeterProvider is an error. When New fails, it shuts down
	// the supplied SpanExporters and MetricReaders, which would otherwise leak.
	MetricReaders []sdkmetric.Reader
	// Registry is the Prometheus registry MetricsHandler serves. Nil creates a private one
	// with the Go runtime and process collectors; the global default registry is never
	// touched.
	Registry *prometheus.Registry

	// Propagator reads and writes trace context across process boundaries. Nil means W3C
	// traceparent/tracestate and W3C baggage.
	Propagator propagation.TextMapPropagator

	// Logger is the logger whose handler gains trace_id, span_id and request_id attributes.
	// Nil means JSON lines on LogWriter at LogLevel.
	Logger *slog.Logger
	// LogWriter receives the default logger's output; nil means os.Stdout, where container
	// platforms collect logs.
	LogWriter io.Writer
	// LogLevel is the default logger's minimum level; nil means slog.LevelInfo.
	LogLevel slog.Leveler
	// Filter, when set, is asked by Handler before each request whether to instrument it; false
	// serves the request untouched (no span, metrics, request id or panic recovery), which
	// suits load balancer probes and metric scrapes that would otherwise flood traces.
	// Routing has not happened yet, so it sees the raw request.
	Filter func(*http.Request) bool
	// AccessLog logs one line per request (operation, method, path, status, duration) at Info. Off by
	// default: traces and RED metrics already describe every request, and a log line per
	// request costs more than both.
	AccessLog bool

	// DrainDelay is how long Serve keeps accepting requests after readiness turns 503, so
	// load balancers notice before the listener closes. Zero means DefaultDrainDelay;
	// negative means no delay.
	DrainDelay time.Duration
	// ShutdownTimeout bounds how long Serve waits for in-flight requests before closing
	// their connections. Zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// FlushTimeout bounds the OnShutdown hooks and the flush of telemetry that follow.
	// Zero means DefaultFlushTimeout.
	FlushTimeout time.Duration
	// CheckTimeout bounds each readiness Checker. Zero means DefaultCheckTimeout.
	CheckTimeout time.Duration

	// Now is the clock; nil means time.Now. It is read once when a request starts and
	// once when it ends.
	Now func() time.Time
}

// Observer instruments HTTP servers and owns the service's telemetry pipeline and shutdown
// sequence. It is safe for concurrent use.
type Observer struct {
	cfg     Config
	now     func() time.Time
	tp      trace.TracerProvider
	mp      metric.MeterProvider
	prop    propagation.TextMapPropagator
	tracer  trace.Tracer
	logh    slog.Handler
	logger  *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics
	ops     opCache

	startOpts []trace.SpanStartOption

	// owned are the providers New built, flushed and shut down last in Shutdown.
	owned []func(context.Context) error
	// tracesBuilt and metricsBuilt are set once a built provider owns the supplied span
	// exporters or metric readers, and so shuts them down.
	tracesBuilt, metricsBuilt bool

	draining atomic.Bool

	mu       sync.Mutex
	hooks    []func(context.Context) error
	checkers []namedChecker

	shutdownOnce sync.Once
	shutdownErr  error
}

// New builds an Observer from cfg. ctx bounds the resource detection only.
func New(ctx context.Context, cfg Config) (*Observer, error) {
	if cfg.DrainDelay == 0 {
		cfg.DrainDelay = DefaultDrainDelay
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ShutdownTimeout", &cfg.ShutdownTimeout, DefaultShutdownTimeout},
		{"FlushTimeout", &cfg.FlushTimeout, DefaultFlushTimeout},
		{"CheckTimeout", &cfg.CheckTimeout, DefaultCheckTimeout},
	} {
		if *d.v < 0 {
			err := fmt.Errorf("observe: %s is negative (%v)", d.name, *d.v)
			return nil, errors.Join(err, (&Observer{cfg: cfg}).release(context.WithoutCancel(ctx)))
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	o := &Observer{cfg: cfg, now: cfg.Now, prop: cfg.Propagator, reg: cfg.Registry}
	if o.now == nil {
		o.now = time.Now
	}
	if o.prop == nil {
		o.prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	if o.reg == nil {
		o.reg = newRegistry()
	}
	if err := o.setupProviders(ctx); err != nil {
		return nil, errors.Join(err, o.release(context.WithoutCancel(ctx)))
	}
	o.setupLogger()
	o.tracer = o.tp.Tracer(scope, trace.WithInstrumentationVersion(version))
	m, err := newMetrics(o.mp.Meter(scope, metric.WithInstrumentationVersion(version)))
	if err != nil {
		return nil, errors.Join(err, o.release(context.WithoutCancel(ctx)))
	}
	o.metrics = m
	o.startOpts = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	return o, nil
}

const (
	scope   = "github.com/tollgate-dev/tollgate/observe"
	version = "0.1.0"
)

func (o *Observer) setupLogger() {
	h := slog.Handler(nil)
	if o.cfg.Logger != nil {
		h = o.cfg.Logger.Handler()
	} else {
		w := o.cfg.LogWriter
		if w == nil {
			w = os.Stdout
		}
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: o.cfg.LogLevel})
	}
	o.logh = LogHandler(h)
	o.logger = slog.New(o.logh)
}

// TracerProvider returns the provider spans are created from, for instrumenting other
// code (database drivers, outbound HTTP clients) so their spans join the request's trace.
func (o *Observer) TracerProvider() trace.TracerProvider { return o.tp }

// MeterProvider returns the provider the RED metrics are recorded with.
func (o *Observer) MeterProvider() metric.MeterProvider { return o.mp }

// Propagator returns the propagator used to read incoming and write outgoing trace context.
func (o *Observer) Propagator() propagation.TextMapPropagator { return o.prop }

// Logger returns a logger whose records carry trace_id, span_id and request_id when they
// are logged with a request's context (logger.InfoContext(ctx, ...)).
func (o *Observer) Logger() *slog.Logger { return o.logger }

// OnShutdown registers a hook that Shutdown runs after the server stopped taking requests
// and before telemetry is flushed, so a hook's own spans and metrics are still exported.
// Hooks run in reverse order of registration, like deferred calls, and share the first
// four fifths of the FlushTimeout budget; a usage meter registers its Close here.
func (o *Observer) OnShutdown(hook func(context.Context) error) {
	if hook == nil {
		return
	}
	o.mu.Lock()
	o.hooks = append(o.hooks, hook)
	o.mu.Unlock()
}

// Shutdown turns readiness to 503, runs the OnShutdown hooks, then flushes and shuts down
// the providers New built, all bounded by ctx and FlushTimeout. It is what Serve calls once
// the server has drained; call it yourself (usually deferred) when serving some other way.
// Only the first call does the work; later calls return its result.
func (o *Observer) Shutdown(ctx context.Context) error {
	o.shutdownOnce.Do(func() {
		o.draining.Store(true)
		// The flush gets a deadline of its own: sharing the hooks' would leave it an
		// expired context whenever a slow hook used the whole budget, dropping the spans
		// and metrics that explain the slow shutdown. The whole still fits FlushTimeout.
		start := time.Now()
		flushReserve := o.cfg.FlushTimeout / 5
		hctx, cancel := context.WithTimeout(ctx, o.cfg.FlushTimeout-flushReserve)
		defer cancel()
		o.mu.Lock()
		hooks := append([]func(context.Context) error(nil), o.hooks...)
		o.mu.Unlock()
		var errs []error
		for i := len(hooks) - 1; i >= 0; i-- {
			if err := hooks[i](hctx); err != nil {
				errs = append(errs, err)
			}
		}
		fctx, cancelFlush := context.WithTimeout(ctx, max(o.cfg.FlushTimeout-time.Since(start), flushReserve))
		defer cancelFlush()
		errs = append(errs, o.shutdownProviders(fctx))
		o.shutdownErr = errors.Join(errs...)
	})
	return o.shutdownErr
}

// MetricsHandler serves the Prometheus registry in the text exposition format; mount it
// at /metrics.
func (o *Observer) MetricsHandler() http.Handler { return metricsHandler(o.reg, o.logh) }

// Mount registers /livez, /readyz and /metrics on mux for GET and HEAD. Profiling is not
// mounted: see [PprofHandler].
func (o *Observer) Mount(mux *http.ServeMux) {
	mux.Handle("GET /livez", o.LivezHandler())
	mux.Handle("GET /readyz", o.ReadyzHandler())
	mux.Handle("GET /metrics", o.MetricsHandler())
}
