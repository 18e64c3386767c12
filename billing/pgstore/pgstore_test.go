package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/billing/billingtest"
	"github.com/tollgate-dev/tollgate/billing/pgstore"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// newPool connects to the test database; each store gets its own schema, dropped afterwards.
func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), tollgatetest.PostgresURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func newStore(t *testing.T, pool *pgxpool.Pool) *pgstore.Store {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "pgstore_" + hex.EncodeToString(b)
	_, err := pool.Exec(ctx, `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := pool.Exec(context.WithoutCancel(ctx), `DROP SCHEMA `+schema+` CASCADE`)
		assert.NoError(t, err)
	})
	s, err := pgstore.New(pgstore.Config{Pool: pool, Prefix: schema + ".billing"})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	return s
}

func TestConformance(t *testing.T) {
	pool := newPool(t)
	billingtest.RunStore(t,
		func(t *testing.T) billing.Store { return newStore(t, pool) },
		func(_ *testing.T, s billing.Store) billing.Store { return s }) // the same tables, read afresh
}

func TestMigrateConcurrently(t *testing.T) {
	pool := newPool(t)
	s := newStore(t, pool)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- s.Migrate(context.Background()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := pgstore.New(pgstore.Config{})
	assert.Error(t, err)
	pool := newPool(t)
	for _, bad := range []string{"Bad", "a.b.c", "x;drop", "1x"} {
		_, err := pgstore.New(pgstore.Config{Pool: pool, Prefix: bad})
		assert.Error(t, err, bad)
	}
}

// Two billers over one database, as two replicas: a plan change on one is seen by the
// other, and both finalise the same invoice once.
func TestTwoReplicas(t *testing.T) {
	ctx := context.Background()
	store := newStore(t, newPool(t))
	usage, err := metering.NewStore(metering.StoreConfig{})
	require.NoError(t, err)
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	plans := []billing.Plan{{Key: "starter", Version: 1, Name: "Starter", Currency: "GBP", Fee: 3100, Features: []string{"x"},
		Prices: []billing.Price{{Meter: "calls", Model: billing.PerUnit, Unit: billing.Minor(1)}}}}
	a, err := billing.New(ctx, billing.Config{Usage: usage, Store: store, Plans: plans, Now: clock})
	require.NoError(t, err)
	b, err := billing.New(ctx, billing.Config{Usage: usage, Store: store, Plans: plans, Now: clock, CacheTTL: time.Nanosecond})
	require.NoError(t, err)
	_, err = a.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "starter"})
	require.NoError(t, err)
	require.NoError(t, b.Entitle(ctx, "acme", "x"), "the other replica reads the subscription")
	require.NoError(t, usage.Write(ctx, []metering.Event{{ID: metering.NewID(now), Time: now.Add(time.Hour), Consumer: "acme", Operation: "op", Status: 200, Units: map[string]int64{"calls": 40}}}))

	now = time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, bl := range []*billing.Biller{a, b} {
		wg.Go(func() {
			n, err := bl.FinalizeDue(ctx)
			assert.NoError(t, err)
			counts[i] = n
		})
	}
	wg.Wait()
	assert.Equal(t, 1, counts[0]+counts[1], "finalised once between the two")
	invs, err := b.Invoices(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, invs, 2)
	assert.Equal(t, billing.InvoiceFinalized, invs[1].Status)
	// 22 of 31 days of £31 = £22, plus 40 calls at 1p.
	assert.Equal(t, int64(2200+40), invs[1].Total)
}
