package metering_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/meteringtest"
)

func newStore(t *testing.T, dir string) *metering.Store {
	t.Helper()
	s, err := metering.NewStore(metering.StoreConfig{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreConformance(t *testing.T) {
	t.Parallel()
	for name, dir := range map[string]func(t *testing.T) string{
		"memory": func(*testing.T) string { return "" },
		"disk":   func(t *testing.T) string { return t.TempDir() },
	} {
		t.Run(name, func(t *testing.T) {
			meteringtest.RunSink(t, func(t *testing.T) meteringtest.Target {
				s := newStore(t, dir(t))
				return meteringtest.Target{Sink: s, Read: s.Events}
			})
			meteringtest.RunUsage(t, func(t *testing.T) (metering.Sink, metering.UsageReader) {
				s := newStore(t, dir(t))
				return s, s
			})
		})
	}
}

func TestStoreSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	evs := meteringtest.Events(50, "alice", time.Now())
	s, err := metering.NewStore(metering.StoreConfig{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, s.Write(ctx, evs[:30]))
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Write(ctx, evs), metering.ErrClosed)

	s = newStore(t, dir)
	require.NoError(t, s.Write(ctx, evs[20:]), "the overlap is a redelivery")
	got, err := s.Events(ctx)
	require.NoError(t, err)
	assert.Len(t, got, 50)
	rows, err := s.Usage(ctx, metering.UsageQuery{Consumer: "alice", Meter: "deliveries", Window: metering.Month})
	require.NoError(t, err)
	var sum int64
	for _, r := range rows {
		sum += r.Sum
	}
	assert.EqualValues(t, 50, sum)
}
