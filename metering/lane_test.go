package metering

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLaneServesFreshEventsWithoutReadingTheSpool checks both ways a spooled lane
// delivers: from its copy of what was just appended while it keeps up, and from disk while
// it lags (a sink that stalls now and then, a copy far smaller than the backlog). Every
// event arrives once, as DecodeEvent reads it back.
func TestLaneServesFreshEventsWithoutReadingTheSpool(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		pauseEvery  int   // events recorded between 1 ms pauses
		stallEvery  int   // sink calls between 20 ms stalls; 0 for none
		maxFromDisk int64 // events read back from disk at most
		minFromDisk int64 // and at least
	}{
		// A lane that keeps up reads most events from the copy; each scheduling hiccup
		// (the race detector on a loaded machine) may put it more than the copy behind
		// and send it to disk for a while, so the bound is half, not zero.
		{name: "keeping up", pauseEvery: 5, maxFromDisk: 1500},
		{name: "lagging", pauseEvery: 50, stallEvery: 7, minFromDisk: 300, maxFromDisk: 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu    sync.Mutex
				got   []Event
				calls int
			)
			m, err := New(Config{Dir: t.TempDir(), QueueSize: 64, BatchSize: 16, FlushInterval: time.Millisecond,
				Sink: SinkFunc(func(_ context.Context, evs []Event) error {
					mu.Lock()
					defer mu.Unlock()
					if calls++; tc.stallEvery > 0 && calls%tc.stallEvery == 0 {
						time.Sleep(20 * time.Millisecond) // fall behind by more than the copy holds
					}
					got = append(got, evs...)
					return nil
				})})
			require.NoError(t, err)
			q := m.lanes[0].q.(*spoolQueue)
			const n = 3000
			for i := range n {
				require.NoError(t, m.Record(context.Background(), Event{Operation: "op", Consumer: "c" + strconv.Itoa(i%3),
					Status: 200, Units: map[string]int64{"calls": int64(i)}, Time: time.Now()}))
				if i%tc.pauseEvery == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			require.NoError(t, m.Close(ctx))
			require.Len(t, got, n)
			// Order is not kept (a full queue spills events to the spool ahead of older
			// ones); each event arrives once.
			seen := make([]bool, n)
			for _, e := range got {
				i := e.Units["calls"]
				require.False(t, seen[i], "event %d delivered twice", i)
				seen[i] = true
				b, err := e.MarshalJSON()
				require.NoError(t, err)
				back, err := DecodeEvent(b)
				require.NoError(t, err)
				require.Equal(t, back, e, "what the copy hands out is what the spool reads back")
			}
			assert.LessOrEqual(t, len(q.hot), 64, "the copy stays within QueueSize")
			disk := q.fromDisk.Load()
			assert.Positive(t, q.fromCopy.Load(), "events from the copy")
			assert.True(t, disk >= tc.minFromDisk && disk <= tc.maxFromDisk, "events from disk: %d", disk)
		})
	}
}
