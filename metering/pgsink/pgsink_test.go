package pgsink_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/meteringtest"
	"github.com/tollgate-dev/tollgate/metering/pgsink"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

func pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), tollgatetest.PostgresURL(t))
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

// newSink returns a sink on a table of its own, dropped when the test ends.
func newSink(t testing.TB, p *pgxpool.Pool) *pgsink.Sink {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	table := "tollgate_test_usage_" + hex.EncodeToString(b)
	s, err := pgsink.New(pgsink.Config{Pool: p, Table: table})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	require.NoError(t, s.Migrate(context.Background()), "Migrate is idempotent")
	t.Cleanup(func() { _, _ = p.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	return s
}

func TestConformance(t *testing.T) {
	p := pool(t)
	meteringtest.RunSink(t, func(t *testing.T) meteringtest.Target {
		s := newSink(t, p)
		return meteringtest.Target{Sink: s, Read: func(ctx context.Context) ([]metering.Event, error) {
			return s.Events(ctx, "")
		}}
	})
	meteringtest.RunUsage(t, func(t *testing.T) (metering.Sink, metering.UsageReader) {
		s := newSink(t, p)
		return s, s
	})
}

func TestMeterIntoPostgres(t *testing.T) {
	p := pool(t)
	s := newSink(t, p)
	m, err := metering.New(metering.Config{Dir: t.TempDir(), Sink: s, BatchSize: 100})
	require.NoError(t, err)
	for range 1000 {
		require.NoError(t, m.Record(context.Background(), metering.Event{Consumer: "acme", Units: map[string]int64{"calls": 1}}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))
	rows, err := s.Usage(ctx, metering.UsageQuery{Consumer: "acme", Window: metering.Month, From: time.Now()})
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"calls": 1000}, metering.Total(rows))
}

func TestNewValidates(t *testing.T) {
	_, err := pgsink.New(pgsink.Config{})
	assert.Error(t, err)
	for _, bad := range []string{"Usage", "a;drop table x", "a.b.c", `"x"`} {
		_, err := pgsink.New(pgsink.Config{Pool: &pgxpool.Pool{}, Table: bad})
		assert.Error(t, err, bad)
	}
}

func TestUnusualMeterNames(t *testing.T) {
	s := newSink(t, pool(t))
	evs := meteringtest.Events(1, "acme", time.Now())
	evs[0].Units = map[string]int64{`we"ird\name`: 2, "ünïcode": 3, "plain": -1}
	require.NoError(t, s.Write(context.Background(), evs))
	got, err := s.Events(context.Background(), "acme")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, evs[0].Units, got[0].Units)
}

// TestRecordRefusesWhatPostgresCannotStore: Postgres refuses NUL and invalid UTF-8 in text
// (22021, 22P05) on every attempt, so such an event would be retried forever. Record must
// refuse it up front, and everything it does accept must be stored.
func TestRecordRefusesWhatPostgresCannotStore(t *testing.T) {
	s := newSink(t, pool(t))
	m, err := metering.New(metering.Config{Sink: s, RetryMax: 50 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for name, ev := range map[string]metering.Event{
		"NUL consumer":           {Consumer: "ac\x00me"},
		"invalid UTF-8 consumer": {Consumer: "ac\xffme"},
		"NUL meter":              {Consumer: "acme", Units: map[string]int64{"c\x00": 1}},
		"invalid UTF-8 meter":    {Consumer: "acme", Units: map[string]int64{"\xc3": 1}},
		"NUL key id":             {Consumer: "acme", KeyID: "\x00"},
		"NUL plan":               {Consumer: "acme", Plan: "p\x00"},
		"NUL operation":          {Consumer: "acme", Operation: "op\x00"},
		"NUL idempotency key":    {Consumer: "acme", IdempotencyKey: "k\x00"},
	} {
		assert.ErrorIs(t, m.Record(ctx, ev), metering.ErrInvalidEvent, name)
	}
	require.NoError(t, m.Record(ctx, metering.Event{Consumer: "acme", Plan: "\u2028ü\x01", Units: map[string]int64{"calls": 1}}))
	require.NoError(t, m.Sync(ctx))
	require.NoError(t, m.Close(ctx))
	got, err := s.Events(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "\u2028ü\x01", got[0].Plan)
}
