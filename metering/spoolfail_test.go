package metering

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// breakSpool makes the lane's spool refuse writes (as a full disk would) until the returned
// function repairs it.
func breakSpool(t *testing.T, m *Meter) (repair func()) {
	sp := m.lanes[0].q.(*spoolQueue).s
	sp.mu.Lock()
	path := sp.segs[len(sp.segs)-1].path(sp.dir)
	require.NoError(t, sp.active.Close())
	sp.mu.Unlock()
	return func() {
		sp.mu.Lock()
		defer sp.mu.Unlock()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		sp.active = f
	}
}

func TestUnwritableSpoolHoldsEventsAndTellsCallers(t *testing.T) {
	var mu sync.Mutex
	got := map[ID]bool{}
	sink := SinkFunc(func(_ context.Context, evs []Event) error {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			got[e.ID] = true
		}
		return nil
	})
	m, err := New(Config{Dir: t.TempDir(), Sink: sink, QueueSize: 8, BatchSize: 100, FlushInterval: time.Hour})
	require.NoError(t, err)
	repair := breakSpool(t, m)
	for range 8 {
		require.NoError(t, m.Record(context.Background(), Event{Consumer: "c"}))
	}
	require.Error(t, m.Flush(context.Background()), "the spool refused the batch")
	for range 8 {
		require.NoError(t, m.Record(context.Background(), Event{Consumer: "c"}), "queue has room again")
	}
	require.ErrorIs(t, m.Flush(context.Background()), errSpoolStalled)
	assert.ErrorIs(t, m.Record(context.Background(), Event{Consumer: "c"}), ErrQueueFull,
		"with the spool stalled, a full queue is reported, not spilled")
	assert.True(t, m.Saturated())

	repair()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, got, 16, "every accepted event is delivered once the disk recovers")
}

func TestCloseReportsEventsTheSpoolNeverTook(t *testing.T) {
	m, err := New(Config{Dir: t.TempDir(), Sink: SinkFunc(func(context.Context, []Event) error { return nil }),
		FlushInterval: time.Hour})
	require.NoError(t, err)
	breakSpool(t, m)
	for range 3 {
		require.NoError(t, m.Record(context.Background(), Event{Consumer: "c"}))
	}
	err = m.Close(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "3 events lost")
}

func TestSpillHeldInMemoryIsAccepted(t *testing.T) {
	var mu sync.Mutex
	got := map[ID]bool{}
	m, err := New(Config{Dir: t.TempDir(), QueueSize: 1, FlushInterval: time.Hour,
		Sink: SinkFunc(func(_ context.Context, evs []Event) error {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range evs {
				got[e.ID] = true
			}
			return nil
		})})
	require.NoError(t, err)
	repair := breakSpool(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Record(ctx, Event{Consumer: "alice"}))
	require.NoError(t, m.Record(ctx, Event{Consumer: "alice"}), "spilled into the stash: accepted")
	assert.ErrorIs(t, m.Record(ctx, Event{Consumer: "alice"}), ErrQueueFull, "the spool is known to fail")
	repair()
	require.NoError(t, m.Sync(ctx))
	require.NoError(t, m.Close(ctx))
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, got, 2)
}
