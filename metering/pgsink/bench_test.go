package pgsink_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate-dev/tollgate/metering/meteringtest"
	"github.com/tollgate-dev/tollgate/metering/pgsink"
)

// BenchmarkWriteVsCopy compares Sink.Write with a raw pgx CopyFrom of the same rows into an
// identical table. Each iteration runs both, alternating which goes first, so load on the
// shared server hits them alike; ratio is pgsink events/s over raw COPY events/s. The raw
// side gets its rows ready-made, so the ratio also charges pgsink for converting events.
func BenchmarkWriteVsCopy(b *testing.B) {
	const batch = 2000
	p := pool(b)
	ctx := context.Background()
	raw, sink := newSink(b, p), newSink(b, p)
	table := pgx.Identifier(strings.Split(raw.Table(), "."))
	columns := pgsink.Columns()
	var rawTime, sinkTime time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		evs := meteringtest.Events(batch, "bench", time.Now())
		rows, err := pgsink.Rows(evs)
		if err != nil {
			b.Fatal(err)
		}
		runRaw := func() {
			start := time.Now()
			if _, err := p.CopyFrom(ctx, table, columns, pgx.CopyFromRows(rows)); err != nil {
				b.Fatal(err)
			}
			rawTime += time.Since(start)
		}
		runSink := func() {
			start := time.Now()
			if err := sink.Write(ctx, evs); err != nil {
				b.Fatal(err)
			}
			sinkTime += time.Since(start)
		}
		if i++; i%2 == 0 {
			runRaw()
			runSink()
		} else {
			runSink()
			runRaw()
		}
	}
	n := float64(b.N * batch)
	b.ReportMetric(n/rawTime.Seconds(), "raw-events/s")
	b.ReportMetric(n/sinkTime.Seconds(), "pgsink-events/s")
	b.ReportMetric(rawTime.Seconds()/sinkTime.Seconds(), "ratio")
}
