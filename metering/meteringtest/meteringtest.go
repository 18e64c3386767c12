// Package meteringtest is the conformance kit for metering.Sink and metering.UsageReader
// implementations: RunSink (durability of every field, deduplication, large and concurrent
// batches, cancellation), RunUsage (sums per window) and RunCrash (SIGKILL mid-flush, then
// exactly-once delivery after a restart). Run it from a backend's tests against the real
// service:
//
//	func TestSink(t *testing.T) {
//		meteringtest.RunSink(t, func(t *testing.T) meteringtest.Target {
//			s := newSinkWithFreshTable(t)
//			return meteringtest.Target{Sink: s, Read: s.readAll}
//		})
//	}
package meteringtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-dev/tollgate/metering"
)

// Target is one fresh sink under test and a way to read back what it stored.
type Target struct {
	Sink metering.Sink
	// Read returns every event the sink stored, in any order.
	Read func(ctx context.Context) ([]metering.Event, error)
	// NoDedupe says the sink stores a repeated event id again (a log or metrics sink);
	// the kit then checks delivery but not deduplication.
	NoDedupe bool
	// Partial says Read returns only the events' ids (a log sink); the kit then compares
	// ids, not every field.
	Partial bool
}

// Events returns n distinct events for consumer with every field set, times at microsecond
// precision starting at start and one second apart.
func Events(n int, consumer string, start time.Time) []metering.Event {
	out := make([]metering.Event, n)
	start = start.UTC().Truncate(time.Microsecond)
	for i := range out {
		t := start.Add(time.Duration(i) * time.Second)
		out[i] = metering.Event{
			ID: metering.NewID(t), Source: "//meteringtest", Type: metering.DefaultType, Time: t,
			Operation: "createDelivery", Consumer: consumer, KeyID: "key_" + consumer, Plan: "pro",
			Status: 201, Latency: time.Duration(i+1) * time.Millisecond, RequestBytes: int64(100 + i),
			ResponseBytes: int64(200 + i), Units: map[string]int64{"deliveries": 1, "sms": int64(i % 3)},
			TraceID: trace.TraceID{1, 2, 3, byte(i)}, SpanID: trace.SpanID{4, 5, byte(i)},
			IdempotencyKey: fmt.Sprintf("idem-%d", i),
		}
	}
	return out
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// RunSink runs the conformance tests for a Sink. newTarget must return a sink with its own
// empty storage (a unique table, stream or directory) and clean it up with t.Cleanup.
func RunSink(t *testing.T, newTarget func(t *testing.T) Target) {
	t.Run("StoresEveryField", func(t *testing.T) {
		tg := newTarget(t)
		want := Events(5, "c-fields", time.Now())
		want[4].Units, want[4].TraceID, want[4].SpanID, want[4].IdempotencyKey = nil, trace.TraceID{}, trace.SpanID{}, ""
		require.NoError(t, tg.Sink.Write(ctx(t), want))
		requireSame(t, tg, want, read(t, tg))
	})
	t.Run("EmptyBatch", func(t *testing.T) {
		tg := newTarget(t)
		require.NoError(t, tg.Sink.Write(ctx(t), nil))
		require.NoError(t, tg.Sink.Write(ctx(t), []metering.Event{}))
		assert.Empty(t, read(t, tg))
	})
	t.Run("RedeliveredBatchStoredOnce", func(t *testing.T) {
		tg := newTarget(t)
		if tg.NoDedupe {
			t.Skip("sink does not deduplicate")
		}
		evs := Events(20, "c-dup", time.Now())
		require.NoError(t, tg.Sink.Write(ctx(t), evs[:10]))
		// A redelivery after a crash overlaps what was stored and repeats ids within a batch.
		again := slices.Concat(evs[5:], evs[15:])
		require.NoError(t, tg.Sink.Write(ctx(t), again))
		requireSame(t, tg, evs, read(t, tg))
	})
	t.Run("LargeBatch", func(t *testing.T) {
		tg := newTarget(t)
		evs := Events(3000, "c-large", time.Now())
		require.NoError(t, tg.Sink.Write(ctx(t), evs))
		assert.Len(t, read(t, tg), len(evs))
	})
	t.Run("ConcurrentWriters", func(t *testing.T) {
		tg := newTarget(t)
		evs := Events(400, "c-conc", time.Now())
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				part := evs[w*50 : w*50+50]
				for i := 0; i < len(part); i += 10 {
					if err := tg.Sink.Write(ctx(t), part[i:i+10]); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		requireSame(t, tg, evs, read(t, tg))
	})
	t.Run("CancelledContext", func(t *testing.T) {
		tg := newTarget(t)
		c, cancel := context.WithCancel(context.Background())
		cancel()
		assert.Error(t, tg.Sink.Write(c, Events(3, "c-cancel", time.Now())),
			"Write must report a cancelled context rather than claim durability")
	})
}

func read(t *testing.T, tg Target) []metering.Event {
	t.Helper()
	got, err := tg.Read(ctx(t))
	require.NoError(t, err)
	return got
}

// requireSame checks got holds exactly the events of want (by id, every field), each once.
func requireSame(t *testing.T, tg Target, want, got []metering.Event) {
	t.Helper()
	byID := map[metering.ID]metering.Event{}
	for _, e := range want {
		byID[e.ID] = e
	}
	seen := map[metering.ID]bool{}
	for _, g := range got {
		require.False(t, seen[g.ID], "event %s stored twice", g.ID)
		seen[g.ID] = true
		w, ok := byID[g.ID]
		require.True(t, ok, "unexpected event %s", g.ID)
		if tg.Partial {
			continue
		}
		wj, err := w.MarshalJSON()
		require.NoError(t, err)
		gj, err := g.MarshalJSON()
		require.NoError(t, err)
		require.JSONEq(t, string(wj), string(gj))
	}
	require.Len(t, seen, len(byID), "events missing")
}

// RunUsage runs the conformance tests for a UsageReader fed through its Sink. newTarget
// must return a fresh, empty store.
func RunUsage(t *testing.T, newTarget func(t *testing.T) (metering.Sink, metering.UsageReader)) {
	base := time.Date(2026, 3, 31, 22, 30, 0, 0, time.UTC)
	ev := func(consumer string, at time.Time, units map[string]int64) metering.Event {
		return metering.Event{ID: metering.NewID(at), Source: "//meteringtest", Type: metering.DefaultType,
			Time: at, Consumer: consumer, Operation: "op", Status: 200, Units: units}
	}
	events := []metering.Event{
		ev("alice", base, map[string]int64{"deliveries": 1, "sms": 2}),
		ev("alice", base.Add(10*time.Minute), map[string]int64{"deliveries": 1}),
		ev("alice", base.Add(45*time.Minute), map[string]int64{"deliveries": 3}), // next hour
		ev("alice", base.Add(2*time.Hour), map[string]int64{"sms": 1}),           // next day and month
		ev("alice", base.Add(3*time.Hour), nil),                                  // a rejected call
		ev("bob", base, map[string]int64{"deliveries": 100}),
	}
	sink, reader := newTarget(t)
	require.NoError(t, sink.Write(ctx(t), events))
	require.NoError(t, sink.Write(ctx(t), events[:2]), "redelivery")
	row := func(meter string, start time.Time, sum, count int64) metering.UsageRow {
		return metering.UsageRow{Consumer: "alice", Meter: meter, Start: start, Sum: sum, Count: count}
	}
	h22 := time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC)
	d31 := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	apr1 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		q    metering.UsageQuery
		want []metering.UsageRow
	}{
		{"hour", metering.UsageQuery{Consumer: "alice", Window: metering.Hour, From: base.Add(-time.Hour)}, []metering.UsageRow{
			row("deliveries", h22, 2, 2), row("sms", h22, 2, 1),
			row("deliveries", h22.Add(time.Hour), 3, 1), row("sms", apr1, 1, 1)}},
		{"day one meter", metering.UsageQuery{Consumer: "alice", Meter: "deliveries", Window: metering.Day}, []metering.UsageRow{
			row("deliveries", d31, 5, 3)}},
		{"month", metering.UsageQuery{Consumer: "alice", Window: metering.Month, From: d31}, []metering.UsageRow{
			row("deliveries", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 5, 3),
			row("sms", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 2, 1),
			row("sms", apr1, 1, 1)}},
		{"bounded", metering.UsageQuery{Consumer: "alice", Window: metering.Day, From: apr1, To: apr1.Add(24 * time.Hour)}, []metering.UsageRow{
			row("sms", apr1, 1, 1)}},
		{"other consumer", metering.UsageQuery{Consumer: "carol", Window: metering.Day}, []metering.UsageRow{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reader.Usage(ctx(t), tc.q)
			require.NoError(t, err)
			for i := range got {
				got[i].Start = got[i].Start.UTC()
			}
			if len(tc.want) == 0 {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("invalid", func(t *testing.T) {
		_, err := reader.Usage(ctx(t), metering.UsageQuery{Window: metering.Day})
		assert.Error(t, err, "a query without a consumer must fail")
		_, err = reader.Usage(ctx(t), metering.UsageQuery{Consumer: "alice", Window: "week"})
		assert.Error(t, err)
		// Hourly stores cannot cut an hour; every reader must refuse rather than round.
		_, err = reader.Usage(ctx(t), metering.UsageQuery{Consumer: "alice", Window: metering.Hour, To: base.Add(5 * time.Minute)})
		assert.Error(t, err, "a To in the middle of an hour must fail")
	})
}
