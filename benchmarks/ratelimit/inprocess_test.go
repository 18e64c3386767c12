package ratelimit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/httprate"
	"golang.org/x/time/rate"

	"github.com/tollgate-dev/tollgate/ratelimit"
)

// The limits are high enough that every decision admits, and slow enough to refill (one
// unit per 3.6s) that every key keeps live state for the whole run: the benchmarks measure
// the cost of deciding for active keys, the same work for every peer.
const (
	perHour = 1_000
	burst   = 1_000_000_000
)

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "consumer-" + strconv.Itoa(i)
	}
	return ks
}

// decider is one peer: decide(i) makes a decision for key i.
type decider struct {
	name string
	make func(ks []string) func(i int) bool
}

var peers = []decider{
	{"tollgate", func(ks []string) func(int) bool {
		l, err := ratelimit.New(ratelimit.Config{})
		if err != nil {
			panic(err)
		}
		ctx, r := context.Background(), ratelimit.PerHour(perHour).WithBurst(burst)
		return func(i int) bool {
			res, _ := l.Take(ctx, ks[i], r, 1)
			return res.Allowed
		}
	}},
	{"xtimerate", func(ks []string) func(int) bool {
		var m sync.Map
		return func(i int) bool {
			v, ok := m.Load(ks[i])
			if !ok {
				v, _ = m.LoadOrStore(ks[i], rate.NewLimiter(rate.Limit(perHour)/3600, burst))
			}
			return v.(*rate.Limiter).Allow()
		}
	}},
	{"httprate", func(ks []string) func(int) bool {
		l := httprate.NewRateLimiter(burst, time.Hour, httprate.WithResponseHeaders(httprate.ResponseHeaders{}))
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		return func(i int) bool { return !l.OnLimit(w, r, ks[i]) }
	}},
}

func BenchmarkTake(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		ks := keys(n)
		for _, p := range peers {
			b.Run(p.name+"/keys="+strconv.Itoa(n)+"/serial", func(b *testing.B) {
				decide := warm(p, ks)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if !decide(i) {
						b.Fatal("refused")
					}
					if i++; i == n {
						i = 0
					}
				}
			})
			b.Run(p.name+"/keys="+strconv.Itoa(n)+"/parallel", func(b *testing.B) {
				decide := warm(p, ks)
				var start atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := int(start.Add(7919)) % n
					for pb.Next() {
						if !decide(i) {
							b.Error("refused")
							return
						}
						if i++; i == n {
							i = 0
						}
					}
				})
			})
		}
	}
}

// warm makes a peer's decider and visits every key once, so that the benchmark measures
// decisions on known keys rather than the first insertion of each.
func warm(p decider, ks []string) func(int) bool {
	decide := p.make(ks)
	for i := range ks {
		decide(i)
	}
	return decide
}

// TestNoOverAdmission runs the benchmarks' key sets contended as a check: goroutines that
// start at different keys and walk all of them several times admit exactly the limit of
// every key, however many run at once (go test -cpu=1,2,4,8).
func TestNoOverAdmission(t *testing.T) {
	const (
		limit   = 3
		rounds  = 2
		workers = 4
	)
	for _, n := range []int{16, 1_000, 100_000} {
		t.Run("keys="+strconv.Itoa(n), func(t *testing.T) {
			l, err := ratelimit.New(ratelimit.Config{})
			if err != nil {
				t.Fatal(err)
			}
			ks, r := keys(n), ratelimit.PerHour(limit)
			allowed := make([]atomic.Int64, n)
			var wg sync.WaitGroup
			for g := range workers {
				wg.Go(func() {
					for i := range rounds * n {
						k := (g*7919 + i) % n
						res, err := l.Take(context.Background(), ks[k], r, 1)
						if err == nil && res.Allowed {
							allowed[k].Add(1)
						}
					}
				})
			}
			wg.Wait()
			for k := range allowed {
				if got := allowed[k].Load(); got != limit {
					t.Fatalf("%s admitted %d, want exactly %d", ks[k], got, limit)
				}
			}
		})
	}
}
