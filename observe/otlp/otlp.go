// Package otlp exports the traces and metrics of an [observe.Observer] to an OpenTelemetry
// collector over OTLP/gRPC. It is a module of its own because OTLP brings gRPC, which
// services that only need Prometheus and logs should not have to build.
//
// # Quick start
//
//	exp, err := otlp.New(ctx, otlp.Config{Endpoint: "otel-collector:4317", Insecure: true})
//	if err != nil { ... }
//	cfg := observe.Config{Service: "delivery"}
//	exp.Apply(&cfg)
//	obs, err := observe.New(ctx, cfg)
//
// The observer owns the exporters from then on: [observe.Observer.Shutdown] (and so
// Serve) flushes the last spans and metrics and closes the connection.
//
// # Configuration
//
// Fields left empty fall back to the standard OTEL_EXPORTER_OTLP_* environment variables
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_INSECURE,
// ...), then to localhost:4317 over TLS. Plaintext must be asked for with Insecure: it is
// meant for a collector on the same host or pod.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"

	"github.com/tollgate-dev/tollgate/observe"
)

// DefaultMetricInterval is how often metrics are pushed when Config.MetricInterval is zero.
const DefaultMetricInterval = 30 * time.Second

// Config selects the collector. The zero value reads the OTEL_EXPORTER_OTLP_* environment.
type Config struct {
	// Endpoint is the collector's host:port; empty uses the environment, then
	// localhost:4317.
	Endpoint string
	// Insecure sends plaintext gRPC, for a collector on the same host or pod.
	Insecure bool
	// Headers are sent with every export, typically a vendor's API key. They are not
	// logged.
	Headers map[string]string
	// Timeout bounds each export; zero means the exporters' 10 s.
	Timeout time.Duration
	// MetricInterval is how often metrics are pushed; zero means DefaultMetricInterval.
	MetricInterval time.Duration
	// Conn, when set, is used for both signals instead of dialling Endpoint; the caller
	// keeps ownership of it. Endpoint, Insecure and Headers are then ignored by the
	// connection itself (Headers still travel as metadata).
	Conn *grpc.ClientConn
	// NoTraces or NoMetrics leave one signal out.
	NoTraces, NoMetrics bool
}

// Exporters are the OTLP span exporter and periodic metric reader built from a Config.
// Either is nil when its signal was left out.
type Exporters struct {
	Spans   sdktrace.SpanExporter
	Metrics sdkmetric.Reader
}

// New builds the exporters. Dialling is lazy: New succeeds without a reachable collector,
// and exports retry with backoff until their timeout.
func New(ctx context.Context, cfg Config) (*Exporters, error) {
	if cfg.Timeout < 0 || cfg.MetricInterval < 0 {
		return nil, errors.New("otlp: negative Timeout or MetricInterval")
	}
	if cfg.NoTraces && cfg.NoMetrics {
		return nil, errors.New("otlp: both signals left out")
	}
	interval := cfg.MetricInterval
	if interval == 0 {
		interval = DefaultMetricInterval
	}
	var e Exporters
	if !cfg.NoTraces {
		exp, err := otlptracegrpc.New(ctx, options(cfg, optionSet[otlptracegrpc.Option]{
			otlptracegrpc.WithGRPCConn, otlptracegrpc.WithEndpoint, otlptracegrpc.WithInsecure,
			otlptracegrpc.WithHeaders, otlptracegrpc.WithTimeout,
		})...)
		if err != nil {
			return nil, fmt.Errorf("otlp: trace exporter: %w", err)
		}
		e.Spans = exp
	}
	if !cfg.NoMetrics {
		exp, err := otlpmetricgrpc.New(ctx, options(cfg, optionSet[otlpmetricgrpc.Option]{
			otlpmetricgrpc.WithGRPCConn, otlpmetricgrpc.WithEndpoint, otlpmetricgrpc.WithInsecure,
			otlpmetricgrpc.WithHeaders, otlpmetricgrpc.WithTimeout,
		})...)
		if err != nil {
			if e.Spans != nil {
				err = errors.Join(err, e.Spans.Shutdown(ctx))
			}
			return nil, fmt.Errorf("otlp: metric exporter: %w", err)
		}
		e.Metrics = sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(interval))
	}
	return &e, nil
}

// optionSet holds one exporter package's option constructors, so both signals are
// configured from Config by the same code.
type optionSet[O any] struct {
	conn     func(*grpc.ClientConn) O
	endpoint func(string) O
	insecure func() O
	headers  func(map[string]string) O
	timeout  func(time.Duration) O
}

func options[O any](cfg Config, set optionSet[O]) []O {
	var opts []O
	if cfg.Conn != nil {
		opts = append(opts, set.conn(cfg.Conn))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, set.endpoint(cfg.Endpoint))
	}
	if cfg.Insecure {
		opts = append(opts, set.insecure())
	}
	if len(cfg.Headers) > 0 {
		opts = append(opts, set.headers(cfg.Headers))
	}
	if cfg.Timeout > 0 {
		opts = append(opts, set.timeout(cfg.Timeout))
	}
	return opts
}

// Apply adds the exporters to cfg, next to whatever it already exports (the Prometheus
// endpoint keeps working). It has no effect on providers cfg supplies itself.
func (e *Exporters) Apply(cfg *observe.Config) {
	if e.Spans != nil {
		cfg.SpanExporters = append(cfg.SpanExporters, e.Spans)
	}
	if e.Metrics != nil {
		cfg.MetricReaders = append(cfg.MetricReaders, e.Metrics)
	}
}
