package clients_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tollgate-dev/tollgate/clients"
)

// BenchmarkCall compares a successful GET through a Client with the same GET through a
// plain http.Client and through a plain retryablehttp client behind a gobreaker breaker,
// all against the same local server in one run, so the results read as ratios.
//
//	go test -run '^$' -bench BenchmarkCall -benchmem -count 3 ./clients/
func BenchmarkCall(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	// Every contender gets its own transport with the standard library's defaults.
	newTransport := func() *http.Transport { return http.DefaultTransport.(*http.Transport).Clone() }
	run := func(b *testing.B, do func(*http.Request) (*http.Response, error)) {
		b.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/messages/1", nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			resp, err := do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}

	b.Run("net_http", func(b *testing.B) {
		hc := &http.Client{Transport: newTransport()}
		run(b, hc.Do)
	})
	b.Run("retryablehttp_gobreaker", func(b *testing.B) {
		rc := retryablehttp.NewClient()
		rc.Logger = nil
		rc.HTTPClient = &http.Client{Transport: newTransport()}
		cb := gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{Name: "bench"})
		run(b, func(req *http.Request) (*http.Response, error) {
			return cb.Execute(func() (*http.Response, error) {
				rr, err := retryablehttp.FromRequest(req)
				if err != nil {
					return nil, err
				}
				return rc.Do(rr)
			})
		})
	})
	b.Run("clients_roundtrip", func(b *testing.B) {
		c, err := clients.New(clients.Config{})
		if err != nil {
			b.Fatal(err)
		}
		run(b, c.Transport().RoundTrip)
	})
	b.Run("clients_roundtrip_noop_tracer", func(b *testing.B) {
		c, err := clients.New(clients.Config{TracerProvider: noop.NewTracerProvider()})
		if err != nil {
			b.Fatal(err)
		}
		run(b, c.Transport().RoundTrip)
	})
	b.Run("clients_http_client", func(b *testing.B) {
		c, err := clients.New(clients.Config{})
		if err != nil {
			b.Fatal(err)
		}
		run(b, c.HTTPClient().Do)
	})
}

// BenchmarkCallInterleaved sends one call through each contender in turn, timing each, and
// reports the median latency of each and their ratios. On a shared, noisy machine this is
// fairer than separate benchmarks: every contender sees the same load at the same moments.
//
//	go test -run '^$' -bench BenchmarkCallInterleaved -benchtime 20000x ./clients/
func BenchmarkCallInterleaved(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c, err := clients.New(clients.Config{})
	if err != nil {
		b.Fatal(err)
	}
	noAttemptTimeout, err := clients.New(clients.Config{AttemptTimeout: -1})
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	cb := gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{Name: "bench"})
	contenders := []struct {
		name string
		do   func(*http.Request) (*http.Response, error)
	}{
		{"net_http", hc.Do},
		{"retryablehttp_gobreaker", func(req *http.Request) (*http.Response, error) {
			return cb.Execute(func() (*http.Response, error) {
				rr, err := retryablehttp.FromRequest(req)
				if err != nil {
					return nil, err
				}
				return rc.Do(rr)
			})
		}},
		{"clients", c.Transport().RoundTrip},
		{"clients_no_attempt_timeout", noAttemptTimeout.Transport().RoundTrip},
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/messages/1", nil)
	samples := make([][]time.Duration, len(contenders))
	i := 0
	for b.Loop() {
		for j := range contenders {
			k := (i + j) % len(contenders) // rotate who goes first
			start := time.Now()
			resp, err := contenders[k].do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			samples[k] = append(samples[k], time.Since(start))
		}
		i++
	}
	medians := make([]float64, len(contenders))
	for k, s := range samples {
		slices.Sort(s)
		medians[k] = float64(s[len(s)/2])
		b.ReportMetric(medians[k], contenders[k].name+"-ns")
	}
	b.ReportMetric(medians[2]/medians[0], "clients/net_http")
	b.ReportMetric(medians[2]/medians[1], "clients/retryablehttp_gobreaker")
	b.ReportMetric(medians[3]/medians[0], "clients_no_attempt_timeout/net_http")
}

// BenchmarkOpenBreaker measures the rejection of a call by an open breaker, next to a bare
// gobreaker rejection.
func BenchmarkOpenBreaker(b *testing.B) {
	b.Run("gobreaker", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
			ReadyToTrip: func(gobreaker.Counts) bool { return true }, Timeout: time.Hour})
		_, _ = cb.Execute(func() (*http.Response, error) { return nil, io.EOF })
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cb.Execute(func() (*http.Response, error) { return nil, nil }); err == nil {
				b.Fatal("breaker not open")
			}
		}
	})
	b.Run("clients", benchmarkOpenBreaker)
	b.Run("clients_parallel", func(b *testing.B) {
		c, req := openBreaker(b)
		rt := c.Transport()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := rt.RoundTrip(req); err == nil {
					b.Error("breaker not open")
					return
				}
			}
		})
	})
}

// openBreaker returns a client whose breaker for the returned request's host is open.
func openBreaker(b *testing.B) (*clients.Client, *http.Request) {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	b.Cleanup(srv.Close)
	c, err := clients.New(clients.Config{
		Retry:   clients.RetryConfig{MaxAttempts: 1},
		Breaker: clients.BreakerConfig{Failures: 1, OpenFor: time.Hour},
	})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	if resp, err := c.Transport().RoundTrip(req); err == nil {
		_ = resp.Body.Close()
	}
	return c, req
}

func benchmarkOpenBreaker(b *testing.B) {
	c, req := openBreaker(b)
	rt := c.Transport()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.RoundTrip(req); err == nil {
			b.Fatal("breaker not open")
		}
	}
}
