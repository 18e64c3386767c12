package observebench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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

type mode struct {
	name    string
	sampler sdktrace.Sampler
}

var modes = []mode{
	{"unsampled", sdktrace.NeverSample()},
	{"sampled", sdktrace.AlwaysSample()},
}

type peer struct {
	name string
	h    http.Handler
}

// peers wraps one handler three ways with identical SDK providers: the same sampler, a
// span processor feeding a discarding exporter, and a meter provider with a reader.
func peers(b *testing.B, m mode) []peer {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(m.sampler),
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discardExporter{})))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	obs, err := observe.New(context.Background(), observe.Config{
		TracerProvider: tp, MeterProvider: mp, Propagator: prop, LogWriter: io.Discard,
	})
	if err != nil {
		b.Fatal(err)
	}
	return []peer{
		{"bare", mux},
		{"observe", obs.Handler(mux)},
		{"otelhttp", otelhttp.NewHandler(mux, "server",
			otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp), otelhttp.WithPropagators(prop))},
	}
}

func newRequest() (*http.Request, *discardWriter) {
	return httptest.NewRequest(http.MethodGet, "/items/42", nil), &discardWriter{h: http.Header{}}
}

// BenchmarkServer measures each peer on its own: ns/op and allocs/op per request.
func BenchmarkServer(b *testing.B) {
	for _, m := range modes {
		for _, p := range peers(b, m) {
			b.Run(m.name+"/"+p.name, func(b *testing.B) {
				r, w := newRequest()
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					p.h.ServeHTTP(w, r)
				}
			})
		}
	}
}

// BenchmarkOverhead interleaves the peers in short rounds and keeps each one's fastest
// round, so load from other processes (which comes and goes) distorts the ratios less than
// it does separate benchmarks. It reports observe's overhead over the bare handler as a
// fraction of otelhttp's, and observe's sampled cost as a multiple of its unsampled cost.
func BenchmarkOverhead(b *testing.B) {
	const round = 2000
	best := map[string]float64{}
	var all [][]peer
	for _, m := range modes {
		all = append(all, peers(b, m))
	}
	r, w := newRequest()
	for b.Loop() {
		for i, ps := range all {
			for _, p := range ps {
				start := time.Now()
				for range round {
					clear(w.h)
					p.h.ServeHTTP(w, r)
				}
				ns := float64(time.Since(start).Nanoseconds()) / round
				k := modes[i].name + "/" + p.name
				if v, ok := best[k]; !ok || ns < v {
					best[k] = ns
				}
			}
		}
	}
	for _, m := range modes {
		bare, obs, otel := best[m.name+"/bare"], best[m.name+"/observe"], best[m.name+"/otelhttp"]
		b.ReportMetric(bare, m.name+"-bare-ns")
		b.ReportMetric(obs, m.name+"-observe-ns")
		b.ReportMetric(otel, m.name+"-otelhttp-ns")
		b.ReportMetric((obs-bare)/(otel-bare), m.name+"-overhead-vs-otelhttp")
	}
	b.ReportMetric(best["sampled/observe"]/best["unsampled/observe"], "observe-sampled/unsampled")
}
