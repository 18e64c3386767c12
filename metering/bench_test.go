package metering_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/metering"
)

func benchEvent() metering.Event {
	return metering.Event{Time: time.Now(), Operation: "createDelivery", Consumer: "acme", KeyID: "k1",
		Plan: "pro", Status: 201, Latency: time.Millisecond, Units: map[string]int64{"deliveries": 1}}
}

// floor is the cheapest thing Record could be: append to a mutex-guarded slice that a
// consumer swaps out when full.
type floor struct {
	mu  sync.Mutex
	buf []metering.Event
}

func (f *floor) add(e metering.Event) {
	f.mu.Lock()
	f.buf = append(f.buf, e)
	if len(f.buf) == cap(f.buf) {
		f.buf = f.buf[:0]
	}
	f.mu.Unlock()
}

func benchMeter(b *testing.B, cfg metering.Config) *metering.Meter {
	cfg.Sink = metering.SinkFunc(func(context.Context, []metering.Event) error { return nil })
	cfg.Overflow = metering.OverflowReject
	m, err := metering.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// BenchmarkRecord compares Record with the floor, single-threaded and in parallel. Record
// reports ErrQueueFull rather than block if the flusher falls behind; the benchmark counts
// those so a fast but lossy run cannot pass for a fast one.
func BenchmarkRecord(b *testing.B) {
	ev := benchEvent()
	ctx := context.Background()
	b.Run("floor/single", func(b *testing.B) {
		f := &floor{buf: make([]metering.Event, 0, 16384)}
		b.ReportAllocs()
		for b.Loop() {
			f.add(ev)
		}
	})
	// The request path alone: the flusher's work is kept out of the timed region by
	// flushing, timer stopped, before the queue fills. "idle-flusher" also keeps the flusher
	// asleep during the timed loop, isolating Record from contention with it; the default
	// configuration wakes it every 512 events, as in production.
	// "declared-units" is the middleware's path: meter names were checked where they were
	// declared (Units, Accumulator.Add), so the event's map is not ranged over again.
	for _, c := range []struct {
		name   string
		cfg    metering.Config
		record func(*metering.Meter, context.Context, metering.Event) error
	}{
		{"meter/single", metering.Config{}, (*metering.Meter).Record},
		{"meter/single-idle-flusher", metering.Config{BatchSize: 16384, FlushInterval: time.Hour}, (*metering.Meter).Record},
		{"meter/single-declared-units", metering.Config{}, metering.RecordDeclared},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := benchMeter(b, c.cfg)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if err := c.record(m, ctx, ev); err != nil {
					b.Fatal(err)
				}
				if n++; n == 8192 {
					b.StopTimer()
					drain(b, m)
					n = 0
					b.StartTimer()
				}
			}
		})
	}
	b.Run("floor/parallel", func(b *testing.B) {
		f := &floor{buf: make([]metering.Event, 0, 16384)}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f.add(ev)
			}
		})
	})
	b.Run("meter/parallel", func(b *testing.B) {
		// Sustained throughput: a goroutine that finds the queue full yields until the
		// flusher makes room, so the time per op covers the whole pipeline, not just Record.
		m := benchMeter(b, metering.Config{})
		var full atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				for m.Record(ctx, ev) != nil {
					full.Add(1)
					runtime.Gosched()
				}
			}
		})
		b.ReportMetric(float64(full.Load())/float64(b.N), "retries/op")
	})
}

func drain(b *testing.B, m *metering.Meter) {
	if err := m.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	for m.Pending() > 0 {
		runtime.Gosched()
	}
}
