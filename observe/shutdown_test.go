package observe_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tollgate-dev/tollgate/observe"
)

// recordingExporter keeps what it exports, also after Shutdown.
type recordingExporter struct {
	mu       sync.Mutex
	names    []string
	shutdown bool
}

func (e *recordingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range spans {
		e.names = append(e.names, s.Name())
	}
	return nil
}

func (e *recordingExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shutdown = true
	return nil
}

func (e *recordingExporter) exported() ([]string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.names...), e.shutdown
}

// TestShutdownFlushesAfterASlowHook: a hook that uses its whole budget does not leave the
// flush an expired context, so spans recorded before shutdown are still exported.
func TestShutdownFlushesAfterASlowHook(t *testing.T) {
	t.Parallel()
	exp := &recordingExporter{}
	obs, err := observe.New(context.Background(), withQuietLogs(observe.Config{
		SpanExporters: []sdktrace.SpanExporter{exp}, FlushTimeout: 200 * time.Millisecond,
	}))
	require.NoError(t, err)
	_, span := obs.TracerProvider().Tracer("test").Start(context.Background(), "before shutdown")
	span.End()
	obs.OnShutdown(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	err = obs.Shutdown(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded, "the hook's own error is reported")
	names, shut := exp.exported()
	assert.Equal(t, []string{"before shutdown"}, names)
	assert.True(t, shut)
}

// TestNewRefusesIgnoredProviderOptions: options that only configure the providers New
// builds are an error next to a provider of the caller's, and a failed New shuts down the
// exporters and readers it was handed.
func TestNewRefusesIgnoredProviderOptions(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	mp := sdkmetric.NewMeterProvider()
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	for _, tc := range []struct {
		name string
		cfg  func(*observe.Config)
	}{
		{"SpanExporters with TracerProvider", func(c *observe.Config) { c.TracerProvider = tp }},
		{"TraceWriter with TracerProvider", func(c *observe.Config) {
			c.TracerProvider, c.TraceWriter, c.SpanExporters = tp, io.Discard, nil
		}},
		{"Sampler with TracerProvider", func(c *observe.Config) {
			c.TracerProvider, c.Sampler, c.SpanExporters = tp, sdktrace.AlwaysSample(), nil
		}},
		{"MetricReaders with MeterProvider", func(c *observe.Config) { c.MeterProvider = mp }},
		{"negative FlushTimeout", func(c *observe.Config) { c.FlushTimeout = -time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := &recordingExporter{}
			reader := sdkmetric.NewManualReader()
			cfg := observe.Config{SpanExporters: []sdktrace.SpanExporter{exp}, MetricReaders: []sdkmetric.Reader{reader}}
			tc.cfg(&cfg)
			_, err := observe.New(context.Background(), withQuietLogs(cfg))
			require.Error(t, err)
			if cfg.SpanExporters != nil {
				_, shut := exp.exported()
				assert.True(t, shut, "the span exporter is shut down")
			}
			var rm metricdata.ResourceMetrics
			assert.ErrorIs(t, reader.Collect(context.Background(), &rm), sdkmetric.ErrReaderShutdown, "the reader is shut down")
		})
	}
}
