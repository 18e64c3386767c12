package metering_test

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/metering"
)

// collector is a sink that keeps what it is given, can be made to fail or to block.
type collector struct {
	mu     sync.Mutex
	byID   map[metering.ID]metering.Event
	writes int
	fail   atomic.Int32 // fail this many more writes
	gate   chan struct{}
}

func newCollector() *collector { return &collector{byID: map[metering.ID]metering.Event{}} }

func (c *collector) Write(ctx context.Context, evs []metering.Event) error {
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if c.fail.Add(-1) >= 0 {
		return errors.New("sink down")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	for _, e := range evs {
		c.byID[e.ID] = e
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

func (c *collector) events() []metering.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]metering.Event, 0, len(c.byID))
	for _, e := range c.byID {
		out = append(out, e)
	}
	return out
}

func newMeter(t *testing.T, cfg metering.Config) *metering.Meter {
	t.Helper()
	if cfg.RetryMin == 0 {
		cfg.RetryMin, cfg.RetryMax = time.Millisecond, 10*time.Millisecond
	}
	m, err := metering.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func closeMeter(t *testing.T, m *metering.Meter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))
}

func record(t *testing.T, m *metering.Meter, n int, units map[string]int64) {
	t.Helper()
	ctx := auth.NewContext(context.Background(), &auth.Principal{Consumer: "alice", KeyID: "k1", Plan: "pro"})
	for range n {
		require.NoError(t, m.Record(ctx, metering.Event{Operation: "op", Status: 200, Units: units}))
	}
}

func TestZeroConfigMetersInMemory(t *testing.T) {
	t.Parallel()
	m := newMeter(t, metering.Config{})
	record(t, m, 7, map[string]int64{"calls": 1})
	closeMeter(t, m)
	rows, err := m.Usage().Usage(context.Background(), metering.UsageQuery{Consumer: "alice", Window: metering.Day})
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"calls": 7}, metering.Total(rows))
	assert.ErrorIs(t, m.Record(context.Background(), metering.Event{}), metering.ErrClosed)
}

func TestRecordFillsInTheCaller(t *testing.T) {
	t.Parallel()
	c := newCollector()
	now := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)
	m := newMeter(t, metering.Config{Sink: c, Source: "//svc", Now: func() time.Time { return now }})
	record(t, m, 1, nil)
	closeMeter(t, m)
	evs := c.events()
	require.Len(t, evs, 1)
	e := evs[0]
	assert.Equal(t, "alice", e.Consumer)
	assert.Equal(t, "k1", e.KeyID)
	assert.Equal(t, "pro", e.Plan)
	assert.Equal(t, "//svc", e.Source)
	assert.Equal(t, metering.DefaultType, e.Type)
	assert.Equal(t, now.Truncate(time.Microsecond), e.Time)
	assert.False(t, e.ID.IsZero())
}

func TestSpoolReplaysAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	down := newCollector()
	down.fail.Store(1 << 30)
	m, err := metering.New(metering.Config{Dir: dir, Sink: down, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	require.NoError(t, err)
	record(t, m, 1000, map[string]int64{"calls": 1})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = m.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "1000 events stay spooled")

	up := newCollector()
	m = newMeter(t, metering.Config{Dir: dir, Sink: up})
	assert.EqualValues(t, 1000, m.Pending(), "the spool is replayed on start")
	closeMeter(t, m)
	assert.Equal(t, 1000, up.count())
	assert.Zero(t, m.Pending())
}

func TestFanOutSlowSinkDoesNotHoldOthers(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"", "disk"} {
		t.Run("dir="+dir, func(t *testing.T) {
			t.Parallel()
			if dir != "" {
				dir = t.TempDir()
			}
			fast, slow := newCollector(), newCollector()
			slow.gate = make(chan struct{})
			m := newMeter(t, metering.Config{Dir: dir, Sinks: map[string]metering.Sink{"fast": fast, "slow": slow},
				FlushInterval: time.Millisecond})
			record(t, m, 100, nil)
			require.Eventually(t, func() bool { return fast.count() == 100 }, 10*time.Second, time.Millisecond)
			assert.Zero(t, slow.count())
			close(slow.gate)
			closeMeter(t, m)
			assert.Equal(t, 100, slow.count())
		})
	}
}

func TestFailingSinkIsRetried(t *testing.T) {
	t.Parallel()
	c := newCollector()
	c.fail.Store(5)
	m := newMeter(t, metering.Config{Sink: c, Dir: t.TempDir()})
	record(t, m, 50, nil)
	closeMeter(t, m)
	assert.Equal(t, 50, c.count())
}

func manualReader(t *testing.T) (*sdkmetric.ManualReader, *sdkmetric.MeterProvider) {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return r, mp
}

func counter(t *testing.T, r *sdkmetric.ManualReader, name string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name != name {
				continue
			}
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					total += p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					total += p.Value
				}
			}
		}
	}
	return total
}

func TestQueueFullRejectTellsTheCaller(t *testing.T) {
	t.Parallel()
	reader, mp := manualReader(t)
	c := newCollector()
	c.gate = make(chan struct{})
	m := newMeter(t, metering.Config{Sink: c, QueueSize: 4, BatchSize: 4, FlushInterval: time.Hour,
		Overflow: metering.OverflowReject, MeterProvider: mp})
	record(t, m, 4, nil)
	require.NoError(t, m.Flush(context.Background()))
	record(t, m, 4, nil)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, m.Flush(short), context.DeadlineExceeded, "the sink's queue is full: events stay in memory")
	assert.True(t, m.Saturated())
	assert.ErrorIs(t, m.Record(context.Background(), metering.Event{}), metering.ErrQueueFull)
	assert.EqualValues(t, 1, counter(t, reader, "tollgate.metering.events.rejected"))
	assert.EqualValues(t, 8, counter(t, reader, "tollgate.metering.queue.length")+counter(t, reader, "tollgate.metering.lag"))
	close(c.gate)
	closeMeter(t, m)
	assert.Equal(t, 8, c.count(), "every accepted event is delivered")
	assert.Zero(t, counter(t, reader, "tollgate.metering.events.dropped"))
}

func TestQueueFullSpillsToSpool(t *testing.T) {
	t.Parallel()
	reader, mp := manualReader(t)
	c := newCollector()
	m := newMeter(t, metering.Config{Sink: c, Dir: t.TempDir(), QueueSize: 4, BatchSize: 100,
		FlushInterval: time.Hour, MeterProvider: mp})
	record(t, m, 10, nil)
	assert.False(t, m.Saturated())
	assert.EqualValues(t, 6, counter(t, reader, "tollgate.metering.events.spilled"))
	closeMeter(t, m)
	assert.Equal(t, 10, c.count())
	assert.EqualValues(t, 10, counter(t, reader, "tollgate.metering.events.delivered"))
}

func TestCloseWithoutSpoolReportsLoss(t *testing.T) {
	t.Parallel()
	reader, mp := manualReader(t)
	c := newCollector()
	c.gate = make(chan struct{}) // never opens
	m := newMeter(t, metering.Config{Sink: c, MeterProvider: mp})
	record(t, m, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := m.Close(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "3 events lost")
	assert.EqualValues(t, 3, counter(t, reader, "tollgate.metering.events.dropped"))
	assert.Equal(t, err, m.Close(context.Background()), "Close is idempotent")
}

func TestIdempotentEventsMeteredOnce(t *testing.T) {
	t.Parallel()
	c := newCollector()
	m := newMeter(t, metering.Config{Sink: c, Dir: t.TempDir()})
	id := metering.DeriveID("tollgate", "alice", "op", "key-1")
	for range 3 {
		require.NoError(t, m.Record(context.Background(), metering.Event{ID: id, Consumer: "alice", Units: map[string]int64{"x": 1}}))
		require.NoError(t, m.Flush(context.Background()))
	}
	closeMeter(t, m)
	assert.Equal(t, 1, c.count())
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Equal(t, 1, c.writes, "the repeats never reached the sink")
}

func TestConcurrentRecord(t *testing.T) {
	t.Parallel()
	c := newCollector()
	m := newMeter(t, metering.Config{Sink: c, Dir: t.TempDir(), QueueSize: 256, BatchSize: 64, Sync: metering.SyncNone})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if err := m.Record(context.Background(), metering.Event{Consumer: "c"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	closeMeter(t, m)
	assert.Equal(t, 8000, c.count())
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	bad := map[string]metering.Config{
		"negative queue": {QueueSize: -1},
		"overflow":       {Overflow: 9},
		"sync":           {Sync: 9},
		"sink name":      {Sinks: map[string]metering.Sink{"../x": newCollector()}},
		"nil sink":       {Sinks: map[string]metering.Sink{"a": nil}},
		"default twice":  {Sink: newCollector(), Sinks: map[string]metering.Sink{"default": newCollector()}},
	}
	for name, cfg := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := metering.New(cfg)
			assert.Error(t, err)
		})
	}
}

func TestSyncWaitsForTheSinks(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"", "disk"} {
		t.Run("dir="+dir, func(t *testing.T) {
			t.Parallel()
			if dir != "" {
				dir = t.TempDir()
			}
			c := newCollector()
			c.gate = make(chan struct{})
			m := newMeter(t, metering.Config{Sink: c, Dir: dir, FlushInterval: time.Hour})
			record(t, m, 10, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			assert.ErrorIs(t, m.Sync(ctx), context.DeadlineExceeded, "the sink has not taken the events")
			close(c.gate)
			require.NoError(t, m.Sync(context.Background()))
			assert.Equal(t, 10, c.count(), "Sync returns once the sink has every event")
		})
	}
}

func TestCancelledRequestContextKeepsTheEvent(t *testing.T) {
	t.Parallel()
	c := newCollector()
	m := newMeter(t, metering.Config{Sink: c})
	ctx, cancel := context.WithCancel(auth.NewContext(context.Background(), &auth.Principal{Consumer: "alice"}))
	cancel() // the client went away before the middleware recorded the call
	require.NoError(t, m.Record(ctx, metering.Event{Operation: "op"}))
	closeMeter(t, m)
	require.Equal(t, 1, c.count())
	assert.Equal(t, "alice", c.events()[0].Consumer)
}

// TestFlushWaitsForRoomInMemoryQueues: without a Dir the sinks' queues are bounded, and a
// flush that finds them full moves nothing. Flush and Sync must still mean "everything
// recorded so far".
func TestFlushWaitsForRoomInMemoryQueues(t *testing.T) {
	t.Parallel()
	c := newCollector()
	c.gate = make(chan struct{})
	m := newMeter(t, metering.Config{Sink: c, QueueSize: 8, BatchSize: 8, FlushInterval: time.Hour})
	record(t, m, 8, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Flush(ctx)) // the lane's queue holds these 8; the sink is blocked
	record(t, m, 8, nil)
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	assert.ErrorIs(t, m.Flush(short), context.DeadlineExceeded, "no room until the sink takes the first 8")
	close(c.gate)
	require.NoError(t, m.Sync(ctx))
	assert.Equal(t, 16, c.count())
}

func TestDurableRecordReturnsOnceSpooled(t *testing.T) {
	t.Parallel()
	_, err := metering.New(metering.Config{Durable: true})
	require.Error(t, err, "Durable without a Dir")

	// The sink never takes anything and the flusher would sleep for an hour: every event
	// Record returns for must already be in the spool.
	release := make(chan struct{})
	dir := t.TempDir()
	m, err := metering.New(metering.Config{Dir: dir, Durable: true, FlushInterval: time.Hour,
		Sink: metering.SinkFunc(func(ctx context.Context, _ []metering.Event) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { assert.NoError(t, m.Record(context.Background(), metering.Event{Operation: "op"})) })
	}
	wg.Wait()
	assert.EqualValues(t, 50, m.Pending())
	var spooled int64
	require.NoError(t, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".seg") {
			info, err := d.Info()
			require.NoError(t, err)
			spooled += info.Size()
		}
		return err
	}))
	assert.Greater(t, spooled, int64(50*40), "the 50 events are on disk")
	close(release)
	closeMeter(t, m)
}

func TestSpoolBoundThenOverflowPolicy(t *testing.T) {
	t.Parallel()
	for _, durable := range []bool{false, true} {
		t.Run(map[bool]string{false: "async", true: "durable"}[durable], func(t *testing.T) {
			t.Parallel()
			const bound = 64 << 10
			release := make(chan struct{})
			sink := newCollector()
			dir := t.TempDir()
			m, err := metering.New(metering.Config{Dir: dir, MaxSpoolBytes: bound, QueueSize: 100, Durable: durable,
				FlushInterval: 5 * time.Millisecond, WriteTimeout: 5 * time.Second,
				Sink: metering.SinkFunc(func(ctx context.Context, evs []metering.Event) error {
					select {
					case <-release:
						return sink.Write(ctx, evs)
					case <-ctx.Done():
						return ctx.Err()
					}
				})})
			require.NoError(t, err)
			accepted, refused := 0, 0
			for i := 0; refused < 50 && i < 100000; i++ {
				switch err := m.Record(context.Background(), metering.Event{Operation: "op", Consumer: "acme"}); {
				case err == nil, errors.Is(err, metering.ErrNotDurable):
					accepted++ // accepted either way: ErrNotDurable is not a refusal
				case errors.Is(err, metering.ErrQueueFull):
					refused++
				default:
					t.Fatal(err)
				}
			}
			require.Equal(t, 50, refused, "the overflow policy applies once the spool is at its bound")
			assert.True(t, m.Saturated(), "the meter reports it cannot take more")
			var onDisk int64
			require.NoError(t, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
				if err == nil && strings.HasSuffix(d.Name(), ".seg") {
					info, err := d.Info()
					require.NoError(t, err)
					onDisk += info.Size()
				}
				return err
			}))
			assert.LessOrEqual(t, onDisk, int64(bound), "the spool stays within its bound")

			close(release)
			require.Eventually(t, func() bool { return sink.count() == accepted && !m.Saturated() }, 20*time.Second,
				10*time.Millisecond, "every accepted event is delivered once the sink recovers")
			require.NoError(t, m.Record(context.Background(), metering.Event{Operation: "op"}))
			closeMeter(t, m)
			assert.Equal(t, accepted+1, sink.count())
		})
	}
}
