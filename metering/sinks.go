package metering

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// LogSink writes each event as one structured log record, for development and debugging.
// It is as durable as its handler's output; it does not deduplicate.
type LogSink struct {
	// Logger receives the records; nil means slog.Default().
	Logger *slog.Logger
	// Level of the records; the zero value is Info.
	Level slog.Level
}

var _ Sink = (*LogSink)(nil)

// Write logs every event.
func (s *LogSink) Write(ctx context.Context, events []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l := s.Logger
	if l == nil {
		l = slog.Default()
	}
	for i := range events {
		e := &events[i]
		units := make([]any, 0, len(e.Units))
		for k, n := range e.Units {
			units = append(units, slog.Int64(k, n))
		}
		l.LogAttrs(ctx, s.Level, "usage event",
			slog.String("id", e.ID.String()), slog.Time("time", e.Time),
			slog.String("operation", e.Operation), slog.String("consumer", e.Consumer),
			slog.String("key_id", e.KeyID), slog.String("plan", e.Plan),
			slog.Int("status", e.Status), slog.Duration("latency", e.Latency),
			slog.Group("units", units...))
	}
	return nil
}

// MetricsSinkConfig configures a MetricsSink.
type MetricsSinkConfig struct {
	// MeterProvider receives the counters; nil means the global provider.
	MeterProvider metric.MeterProvider
	// Consumer adds the consumer as an attribute. Leave it off unless consumers are few:
	// every consumer becomes a time series.
	Consumer bool
}

// MetricsSink turns events into OpenTelemetry counters: tollgate.usage.units (attributes
// meter and plan, and consumer when configured) and tollgate.usage.requests (operation,
// plan, status class). Counters cannot deduplicate, so a redelivered batch counts twice;
// use it for dashboards and alerts, and a Store, pgsink or natssink for billing.
type MetricsSink struct {
	cfg      MetricsSinkConfig
	units    metric.Int64Counter
	requests metric.Int64Counter
}

var _ Sink = (*MetricsSink)(nil)

// NewMetricsSink creates the counters.
func NewMetricsSink(cfg MetricsSinkConfig) (*MetricsSink, error) {
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	mt := mp.Meter(instrumentationName)
	units, err1 := mt.Int64Counter("tollgate.usage.units", metric.WithDescription("Units consumed, per meter."))
	requests, err2 := mt.Int64Counter("tollgate.usage.requests", metric.WithDescription("Metered calls."),
		metric.WithUnit("{request}"))
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &MetricsSink{cfg: cfg, units: units, requests: requests}, nil
}

// Write adds the events to the counters.
func (s *MetricsSink) Write(ctx context.Context, events []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range events {
		e := &events[i]
		attrs := []attribute.KeyValue{attribute.String("plan", e.Plan)}
		if s.cfg.Consumer {
			attrs = append(attrs, attribute.String("consumer", e.Consumer))
		}
		s.requests.Add(ctx, 1, metric.WithAttributes(append(attrs,
			attribute.String("operation", e.Operation),
			attribute.String("status_class", strconv.Itoa(e.Status/100)+"xx"))...))
		for meter, n := range e.Units {
			s.units.Add(ctx, n, metric.WithAttributes(append(attrs, attribute.String("meter", meter))...))
		}
	}
	return nil
}
