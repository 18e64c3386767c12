package observe_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tollgate-dev/tollgate/observe"
)

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// TestAllocsUnsampled pins the allocation budget of an unsampled request, so a regression
// fails here rather than only in a benchmark nobody reads.
func TestAllocsUnsampled(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	obs, err := observe.New(context.Background(), observe.Config{TracerProvider: tp, MeterProvider: mp})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	perRequest := func(h http.Handler) float64 {
		r := httptest.NewRequest(http.MethodGet, "/items/1", nil)
		w := &discard{h: http.Header{}}
		h.ServeHTTP(w, r)
		return testing.AllocsPerRun(1000, func() {
			clear(w.h)
			h.ServeHTTP(w, r)
		})
	}
	overhead := perRequest(obs.Handler(mux)) - perRequest(mux)
	t.Logf("allocations added per request: %v", overhead)
	require.LessOrEqual(t, overhead, 6.0)
}
