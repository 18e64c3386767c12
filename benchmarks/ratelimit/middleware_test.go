package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/go-chi/httprate"

	"github.com/tollgate-dev/tollgate/ratelimit"
)

// peerIP keys httprate by the connection's peer address, as Tollgate's ByIP does when no
// proxy is trusted.
func peerIP(r *http.Request) (string, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "", err
	}
	return ap.Addr().String(), nil
}

// BenchmarkMiddleware compares the whole per-request cost of the net/http adapters on an
// allowed request, keyed by client address, headers on: Tollgate's Limiter.Handler and
// httprate.LimitBy keyed by peer address, in front of the same handler, interleaved by sub-benchmark.
//
//	go -C benchmarks test -run '^$' -bench Middleware -count 5 ./ratelimit/
func BenchmarkMiddleware(b *testing.B) {
	const limit = 1 << 40 // never reached
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	l, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "per-hour", Rate: ratelimit.PerHour(limit), Key: ratelimit.ByIP},
	}})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", ok},
		{"tollgate", l.Handler(ok)},
		{"httprate", httprate.LimitBy(limit, time.Hour, peerIP)(ok)},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/items/42", nil)
			req.RemoteAddr = "192.0.2.10:51234"
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, req)
				if w.Code != http.StatusNoContent {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
