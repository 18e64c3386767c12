package observe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// setupProviders builds the SDK providers the caller did not supply.
func (o *Observer) setupProviders(ctx context.Context) error {
	o.tp, o.mp = o.cfg.TracerProvider, o.cfg.MeterProvider
	if o.tp != nil && (o.cfg.Sampler != nil || o.cfg.TraceWriter != nil || len(o.cfg.SpanExporters) > 0) {
		return errors.New("observe: Sampler, TraceWriter and SpanExporters configure the tracer provider New builds; with TracerProvider set they would be ignored")
	}
	if o.mp != nil && len(o.cfg.MetricReaders) > 0 {
		return errors.New("observe: MetricReaders are added to the meter provider New builds; with MeterProvider set they would be ignored")
	}
	if o.tp != nil && o.mp != nil {
		return nil
	}
	res, err := o.resource(ctx)
	if err != nil {
		return err
	}
	if o.tp == nil {
		opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
		if o.cfg.Sampler != nil {
			opts = append(opts, sdktrace.WithSampler(o.cfg.Sampler))
		}
		if o.cfg.TraceWriter != nil {
			exp, err := stdouttrace.New(stdouttrace.WithWriter(o.cfg.TraceWriter))
			if err != nil {
				return fmt.Errorf("observe: trace writer: %w", err)
			}
			opts = append(opts, sdktrace.WithBatcher(exp))
		}
		if err := noNils(o.cfg.SpanExporters, "span exporter"); err != nil {
			return err
		}
		for _, exp := range o.cfg.SpanExporters {
			opts = append(opts, sdktrace.WithBatcher(exp))
		}
		tp := sdktrace.NewTracerProvider(opts...)
		o.tp, o.tracesBuilt = tp, true
		o.owned = append(o.owned, flushThen(tp.ForceFlush, tp.Shutdown))
	}
	if o.mp == nil {
		// The Prometheus exporter registers into the Observer's own registry, never the
		// global one, so two Observers (or tests) never collide.
		exp, err := otelprom.New(otelprom.WithRegisterer(o.reg))
		if err != nil {
			return fmt.Errorf("observe: prometheus exporter: %w", err)
		}
		opts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(exp)}
		if err := noNils(o.cfg.MetricReaders, "metric reader"); err != nil {
			return err
		}
		for _, r := range o.cfg.MetricReaders {
			opts = append(opts, sdkmetric.WithReader(r))
		}
		mp := sdkmetric.NewMeterProvider(opts...)
		o.mp, o.metricsBuilt = mp, true
		o.owned = append(o.owned, flushThen(mp.ForceFlush, mp.Shutdown))
	}
	return nil
}

func noNils[T any](xs []T, what string) error {
	for _, x := range xs {
		if any(x) == nil {
			return fmt.Errorf("observe: nil %s", what)
		}
	}
	return nil
}

func flushThen(flush, shutdown func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error { return errors.Join(flush(ctx), shutdown(ctx)) }
}

// shutdownProviders flushes and shuts down only the providers New built: providers the
// caller supplied belong to the caller.
func (o *Observer) shutdownProviders(ctx context.Context) error {
	var errs []error
	for _, f := range o.owned {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// release undoes a failed New: it shuts down the providers New built, and the supplied
// span exporters and metric readers that no built provider took over, since nothing else
// would ever stop them (an OTLP exporter holds a connection).
func (o *Observer) release(ctx context.Context) error {
	errs := []error{o.shutdownProviders(ctx)}
	if !o.tracesBuilt {
		for _, e := range o.cfg.SpanExporters {
			if e != nil {
				errs = append(errs, e.Shutdown(ctx))
			}
		}
	}
	if !o.metricsBuilt {
		for _, r := range o.cfg.MetricReaders {
			if r != nil {
				errs = append(errs, r.Shutdown(ctx))
			}
		}
	}
	return errors.Join(errs...)
}

// resource merges the SDK default (telemetry.sdk.*, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES) with the configured fields, which win.
func (o *Observer) resource(ctx context.Context) (*resource.Resource, error) {
	attrs := append([]attribute.KeyValue(nil), o.cfg.ResourceAttributes...)
	if o.cfg.Service != "" {
		attrs = append(attrs, semconv.ServiceName(o.cfg.Service))
	}
	if o.cfg.Version != "" {
		attrs = append(attrs, semconv.ServiceVersion(o.cfg.Version))
	}
	if o.cfg.Environment != "" {
		attrs = append(attrs, semconv.DeploymentEnvironmentNameKey.String(o.cfg.Environment))
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
		resource.WithAttributes(attrs...),
		resource.WithSchemaURL(semconv.SchemaURL),
	)
	if err != nil {
		return nil, fmt.Errorf("observe: resource: %w", err)
	}
	// Default supplies service.name "unknown_service:<executable>" when nothing else did.
	if res, err = resource.Merge(resource.Default(), res); err != nil {
		return nil, fmt.Errorf("observe: resource: %w", err)
	}
	return res, nil
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func metricsHandler(reg *prometheus.Registry, logh slog.Handler) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(logh, slog.LevelError),
		Registry:          reg,
		EnableOpenMetrics: true,
	})
}

// ForceFlush exports the spans and metrics recorded so far, without shutting anything down:
// for runtimes that freeze the process between requests (AWS Lambda), where a batch left
// for a background exporter may never be sent. Providers that cannot flush are skipped.
func (o *Observer) ForceFlush(ctx context.Context) error {
	type flusher interface{ ForceFlush(context.Context) error }
	var errs []error
	for _, p := range []any{o.tp, o.mp} {
		if f, ok := p.(flusher); ok {
			errs = append(errs, f.ForceFlush(ctx))
		}
	}
	return errors.Join(errs...)
}
