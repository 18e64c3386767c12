package billing_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/metering"
)

// BenchmarkEntitle is the entitlement check on the request path, with a warm cache.
func BenchmarkEntitle(b *testing.B) {
	ctx := context.Background()
	usage, err := metering.NewStore(metering.StoreConfig{})
	require.NoError(b, err)
	bl, err := billing.New(ctx, billing.Config{Usage: usage, Plans: testPlans(), DefaultPlan: "free", CacheTTL: time.Hour})
	require.NoError(b, err)
	_, err = bl.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "growth"})
	require.NoError(b, err)
	require.NoError(b, bl.Entitle(ctx, "acme", "priority"))
	b.ReportAllocs()
	for b.Loop() {
		if err := bl.Entitle(ctx, "acme", "priority"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRateMonth rates one consumer-month of 1,000,000 usage events, from the usage
// query (an in-process metering.Store, which keeps hourly totals) to the invoice.
func BenchmarkRateMonth(b *testing.B) {
	ctx := context.Background()
	usage, err := metering.NewStore(metering.StoreConfig{})
	require.NoError(b, err)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const events = 1_000_000
	batch := make([]metering.Event, 0, 10_000)
	step := (31 * 24 * time.Hour) / events
	for i := range events {
		t := start.Add(time.Duration(i) * step)
		batch = append(batch, metering.Event{ID: metering.NewID(t), Time: t, Consumer: "acme", Operation: "op", Status: 201,
			Units: map[string]int64{"deliveries": 1, "sms": int64(i % 2)}})
		if len(batch) == cap(batch) {
			require.NoError(b, usage.Write(ctx, batch))
			batch = batch[:0]
		}
	}
	now := start.Add(15 * 24 * time.Hour)
	bl, err := billing.New(ctx, billing.Config{Usage: usage, Plans: testPlans(), Now: func() time.Time { return now }})
	require.NoError(b, err)
	sub := billing.Subscription{ID: "sub_1", Consumer: "acme", Plan: "starter", PlanVersion: 1, Status: billing.StatusActive,
		Started: start, Since: start, PeriodStart: start, PeriodEnd: start.AddDate(0, 1, 0)}
	b.ReportAllocs()
	for b.Loop() {
		inv, err := bl.Rate(ctx, sub, start, start.AddDate(0, 1, 0))
		if err != nil {
			b.Fatal(err)
		}
		if inv.Lines[1].Quantity != events {
			b.Fatalf("rated %d events", inv.Lines[1].Quantity)
		}
	}
}
