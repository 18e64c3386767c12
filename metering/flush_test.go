package metering

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func countingMeter(t *testing.T, cfg Config) (*Meter, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	cfg.Sink = SinkFunc(func(_ context.Context, evs []Event) error {
		n.Add(int64(len(evs)))
		return nil
	})
	m, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m, &n
}

func syncMeter(t *testing.T, m *Meter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Sync(ctx))
}

func TestUnencodableEventCostsOnlyItself(t *testing.T) {
	t.Parallel()
	m, n := countingMeter(t, Config{Dir: t.TempDir(), FlushInterval: time.Hour})
	batch := make([]Event, 101)
	for i := range batch {
		batch[i] = Event{Consumer: "alice", Time: time.Now()}
	}
	batch[50].Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // bypasses Record
	m.flushMu.Lock()
	err := m.deliverToLanes(batch)
	m.flushMu.Unlock()
	require.NoError(t, err)
	syncMeter(t, m)
	require.EqualValues(t, 100, n.Load())
}

func TestOversizeRecordIsDroppedNotStashed(t *testing.T) {
	t.Parallel()
	m, n := countingMeter(t, Config{Dir: t.TempDir(), FlushInterval: time.Hour})
	good, err := (&Event{ID: NewID(time.Now()), Source: "s", Type: "t", Time: time.Now()}).MarshalJSON()
	require.NoError(t, err)
	m.flushMu.Lock()
	err = m.appendToLanes(nil, [][]byte{make([]byte, maxRecordSize+1), good})
	stashed := m.stashedEvents()
	m.flushMu.Unlock()
	require.NoError(t, err)
	require.Zero(t, stashed)
	require.NoError(t, m.Record(context.Background(), Event{Consumer: "alice"}))
	syncMeter(t, m)
	require.EqualValues(t, 2, n.Load())
}
