package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate-dev/tollgate/observe"
)

// rig is an Observer wired to in-memory telemetry: a span recorder, a manual metric reader
// and a log buffer.
type rig struct {
	obs    *observe.Observer
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	logs   *syncBuffer
}

func newRig(t *testing.T, mutate ...func(*observe.Config)) *rig {
	t.Helper()
	rg := &rig{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader(), logs: &syncBuffer{}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rg.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rg.reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	cfg := observe.Config{Service: "test", TracerProvider: tp, MeterProvider: mp, LogWriter: rg.logs, DrainDelay: -1}
	for _, m := range mutate {
		m(&cfg)
	}
	obs, err := observe.New(context.Background(), cfg)
	require.NoError(t, err)
	rg.obs = obs
	return rg
}

func (rg *rig) ended() []sdktrace.ReadOnlySpan { return rg.spans.Ended() }

// counts returns the data points of a counter keyed by "operation|status_class".
func (rg *rig) counts(t *testing.T, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, rg.reader.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] += int64(p.Count)
				}
			}
		}
	}
	return out
}

func key(s attribute.Set) string {
	op, _ := s.Value(observe.OperationKey)
	cls, _ := s.Value(observe.StatusClassKey)
	return op.AsString() + "|" + cls.AsString()
}

// logLines decodes the JSON log lines written so far.
func (rg *rig) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(rg.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const (
	testTimeout = 10 * time.Second
	tick        = 5 * time.Millisecond
)

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
