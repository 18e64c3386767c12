package observe_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
