package observebench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tollgate-dev/tollgate/observe"
)

// discardWriter is the cheapest possible http.ResponseWriter, so the numbers are the
// middleware's, not the recorder's.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// discardExporter accepts spans and drops them, so sampled runs pay for recording a span
// and handing it to an exporter, but not for any particular backend.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

func BenchmarkServer(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	for _, mode := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{
		{"unsampled", sdktrace.NeverSample()},
		{"sampled", sdktrace.AlwaysSample()},
	} {
		// Both middlewares get identical SDK providers: the same sampler, a span processor
		// feeding a discarding exporter, and a meter provider with a reader.
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(mode.sampler),
			sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discardExporter{})))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
		obs, err := observe.New(context.Background(), observe.Config{
			TracerProvider: tp, MeterProvider: mp, Propagator: prop, LogWriter: io.Discard,
		})
		if err != nil {
			b.Fatal(err)
		}
		handlers := []struct {
			name string
			h    http.Handler
		}{
			{"bare", mux},
			{"observe", obs.Handler(mux)},
			{"otelhttp", otelhttp.NewHandler(mux, "server",
				otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp), otelhttp.WithPropagators(prop))},
		}
		for _, h := range handlers {
			b.Run(mode.name+"/"+h.name, func(b *testing.B) {
				r := httptest.NewRequest(http.MethodGet, "/items/42", nil)
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					h.h.ServeHTTP(w, r)
				}
			})
		}
	}
}
