package stackbench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkFullStack sends one request to the bare server and one to the full stack per
// iteration, alternating, over loopback HTTP with keep-alive, and reports each side's
// p50/p99 and the ratio of their mean latencies (full / bare; req/s ratio is its inverse).
func BenchmarkFullStack(b *testing.B) {
	for _, m := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{{"unsampled", sdktrace.NeverSample()}, {"sampled", sdktrace.AlwaysSample()}} {
		b.Run(m.name, func(b *testing.B) {
			bareSrv := httptest.NewServer(Bare())
			defer bareSrv.Close()
			st, err := Full(m.sampler, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			key := st.Key
			fullSrv := httptest.NewServer(st.Handler)
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
