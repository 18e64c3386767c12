package stackbench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/observe"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

type itemOutput struct {
	Body struct {
		ID string `json:"id"`
	}
}

func register(api huma.API, mods ...func(*huma.Operation)) {
	huma.Get(api, "/items/{id}", func(_ context.Context, in *struct {
		ID string `path:"id"`
	}) (*itemOutput, error) {
		out := &itemOutput{}
		out.Body.ID = in.ID
		return out, nil
	}, mods...)
}

// bare is the operation on humago alone.
func bare() http.Handler {
	mux := http.NewServeMux()
	register(humago.New(mux, huma.DefaultConfig("Bench", "1.0.0")))
	return mux
}

// full is the README's composition: observe (RED metrics, tracing with the sampler given,
// spans to a discarding exporter), API-key auth with a warm cache, metering with a durable
// spool, and an in-process limit that never rejects.
func full(b *testing.B, sampler sdktrace.Sampler) (http.Handler, string, func()) {
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithBatcher(discardExporter{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	obs, err := observe.New(ctx, observe.Config{Service: "bench", TracerProvider: tp, MeterProvider: mp, LogWriter: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	keys, err := auth.NewKeys(auth.KeyConfig{Secret: auth.Secret("0123456789abcdef0123456789abcdef")})
	if err != nil {
		b.Fatal(err)
	}
	issued, err := keys.Create(ctx, auth.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}})
	if err != nil {
		b.Fatal(err)
	}
	authn, err := auth.New(auth.Config{Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	limits, err := ratelimit.New(ratelimit.Config{})
	if err != nil {
		b.Fatal(err)
	}
	meter, err := metering.New(metering.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("Bench", "1.0.0"))
	api.UseMiddleware(obs.Huma(api), authn.Huma(api), meter.Huma(api), limits.Huma(api))
	register(api, auth.Require("items:read"), ratelimit.Limit(ratelimit.PerSecond(1_000_000_000)), metering.Units("requests", 1))
	return obs.Handler(mux), issued.Key.Reveal(), func() {
		_ = meter.Close(ctx)
		_ = obs.Shutdown(ctx)
	}
}

// BenchmarkFullStack sends one request to the bare server and one to the full stack per
// iteration, alternating, over loopback HTTP with keep-alive, and reports each side's
// p50/p99 and the ratio of their mean latencies (full / bare; req/s ratio is its inverse).
func BenchmarkFullStack(b *testing.B) {
	for _, m := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{{"unsampled", sdktrace.NeverSample()}, {"sampled", sdktrace.AlwaysSample()}} {
		b.Run(m.name, func(b *testing.B) {
			bareSrv := httptest.NewServer(bare())
			defer bareSrv.Close()
			h, key, done := full(b, m.sampler)
			defer done()
			fullSrv := httptest.NewServer(h)
			defer fullSrv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			get := func(url, key string) time.Duration {
				req, _ := http.NewRequest(http.MethodGet, url+"/items/42", nil)
				if key != "" {
					req.Header.Set("X-API-Key", key)
				}
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				return time.Since(start)
			}
			for range 200 { // warm connections, caches and the spool
				get(bareSrv.URL, "")
				get(fullSrv.URL, key)
			}
			var bareT, fullT []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				bareT = append(bareT, get(bareSrv.URL, ""))
				fullT = append(fullT, get(fullSrv.URL, key))
			}
			sum := func(ds []time.Duration) (s time.Duration) {
				for _, d := range ds {
					s += d
				}
				return s
			}
			pct := func(ds []time.Duration, p int) float64 {
				slices.Sort(ds)
				return float64(ds[len(ds)*p/100].Microseconds())
			}
			b.ReportMetric(float64(sum(fullT))/float64(sum(bareT)), "full/bare")
			b.ReportMetric(pct(bareT, 50), "bare-p50-µs")
			b.ReportMetric(pct(bareT, 99), "bare-p99-µs")
			b.ReportMetric(pct(fullT, 50), "full-p50-µs")
			b.ReportMetric(pct(fullT, 99), "full-p99-µs")
		})
	}
}
