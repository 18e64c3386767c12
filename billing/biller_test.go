package billing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// testPlans are the example's shape: a free plan with allowances, a paid plan with
// per-unit and package prices, and a larger plan with graduated prices.
func testPlans() []billing.Plan {
	return []billing.Plan{
		{Key: "free", Version: 1, Name: "Free", Currency: "GBP", Limits: map[string]int64{"deliveries": 100},
			Prices: []billing.Price{{Meter: "deliveries", Model: billing.PerUnit, Unit: billing.Minor(0)}}},
		{Key: "starter", Version: 1, Name: "Starter", Currency: "GBP", Fee: 3000, Features: []string{"webhooks"},
			Limits: map[string]int64{"deliveries": 10_000},
			Prices: []billing.Price{
				{Meter: "deliveries", Model: billing.PerUnit, Unit: up("2"), Free: 100},
				{Meter: "sms", Model: billing.Package, Unit: up("50"), PackageSize: 10},
			}},
		{Key: "growth", Version: 1, Name: "Growth", Currency: "GBP", Fee: 9000, Features: []string{"webhooks", "priority"},
			Prices: []billing.Price{
				{Meter: "deliveries", Model: billing.Graduated, Tiers: []billing.Tier{{UpTo: 1000, Unit: up("1.5")}, {Unit: up("1")}}},
			}},
	}
}

type fixture struct {
	b     *billing.Biller
	usage *metering.Store
	clock *tollgatetest.Clock
	store billing.Store
	note  *recorder
}

func newBiller(t *testing.T, start time.Time, mod func(*billing.Config)) *fixture {
	t.Helper()
	usage, err := metering.NewStore(metering.StoreConfig{})
	require.NoError(t, err)
	clock := tollgatetest.NewClock(start)
	f := &fixture{usage: usage, clock: clock, store: billing.NewMemoryStore(), note: &recorder{}}
	cfg := billing.Config{Usage: usage, Store: f.store, Plans: testPlans(), DefaultPlan: "free", Now: clock.Now, Notifier: f.note}
	if mod != nil {
		mod(&cfg)
	}
	f.b, err = billing.New(context.Background(), cfg)
	require.NoError(t, err)
	return f
}

// use records n units of meter for consumer at t, as the metering pipeline does.
func (f *fixture) use(t *testing.T, consumer, meter string, n int64, at time.Time) {
	t.Helper()
	require.NoError(t, f.usage.Write(context.Background(), []metering.Event{{
		ID: metering.NewID(at), Time: at, Consumer: consumer, Operation: "op", Status: 200, Units: map[string]int64{meter: n},
	}}))
}

type recorder struct {
	mu     sync.Mutex
	events []billing.Event
}

func (r *recorder) Notify(_ context.Context, e billing.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Type)
	}
	return out
}

func at(day, hour, minute int) time.Time {
	return time.Date(2026, 3, day, hour, minute, 0, 0, time.UTC)
}

func lineAmounts(inv billing.Invoice) map[string]int64 {
	out := map[string]int64{}
	for _, l := range inv.Lines {
		k := l.Plan + "/" + l.Meter
		if l.Meter == "" {
			k = l.Plan + "/fee"
		}
		out[k] += l.Amount
	}
	return out
}

// TestBillingPeriod walks one consumer through a month: a start mid-month, usage, a plan
// change with proration, late usage inside the grace, finalisation, and cancellation. Every
// amount is worked out by hand in the comments.
func TestBillingPeriod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newBiller(t, at(10, 10, 30), nil)

	_, err := f.b.Subscription(ctx, "acme")
	assert.ErrorIs(t, err, billing.ErrNotFound)
	err = f.b.Entitle(ctx, "acme", "webhooks")
	var ee *billing.EntitlementError
	require.ErrorAs(t, err, &ee, "without a subscription the consumer is on the default plan")
	assert.ErrorIs(t, err, billing.ErrNotEntitled)
	assert.Equal(t, "free", ee.Plan)
	assert.Equal(t, []string{"starter", "growth"}, ee.Plans, "cheapest first")

	sub, err := f.b.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "starter"})
	require.NoError(t, err)
	assert.Equal(t, billing.StatusActive, sub.Status)
	assert.Equal(t, at(10, 10, 30), sub.PeriodStart, "the first period starts with the subscription")
	assert.Equal(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), sub.PeriodEnd, "and ends with the calendar month")
	require.NoError(t, f.b.Entitle(ctx, "acme", "webhooks"), "a change made here applies at once")
	_, err = f.b.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "starter"})
	var pce *billing.PlanChangeError
	assert.ErrorAs(t, err, &pce)
	_, err = f.b.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "platinum"})
	assert.ErrorIs(t, err, billing.ErrNotFound)

	f.use(t, "acme", "deliveries", 300, at(12, 9, 0))
	f.use(t, "acme", "sms", 25, at(12, 9, 0))
	f.use(t, "beta", "deliveries", 5000, at(12, 9, 0)) // someone else's usage never shows

	invs, err := f.b.Invoices(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, invs, 1)
	draft := invs[0]
	assert.Equal(t, billing.InvoiceDraft, draft.Status)
	assert.Equal(t, billing.InvoiceID("acme", at(10, 10, 30)), draft.ID)
	// Fee: 3000 × (21 d 13.5 h = 1,863,000 s) / (31 d = 2,678,400 s) = 2086.67 → 2087.
	// Deliveries: (300 − 100 free) × 2 = 400. SMS: 25 → 3 packages of 10 × 50 = 150.
	assert.Equal(t, map[string]int64{"starter/fee": 2087, "starter/deliveries": 400, "starter/sms": 150}, lineAmounts(draft))
	assert.Equal(t, int64(2637), draft.Total)
	again, err := f.b.Invoice(ctx, "acme", draft.ID)
	require.NoError(t, err)
	assert.Equal(t, draft, again, "rating the same period twice gives the same invoice")

	// Another replica over the same store and usage rates the very same draft.
	other, err := billing.New(ctx, billing.Config{Usage: f.usage, Store: f.store, Plans: testPlans(), Now: f.clock.Now})
	require.NoError(t, err)
	fromOther, err := other.Invoice(ctx, "acme", draft.ID)
	require.NoError(t, err)
	assert.Equal(t, draft, fromOther)

	// On 20 March, move to growth now: each plan's fee is prorated to its part of the month.
	f.clock.Advance(at(20, 0, 0).Sub(f.clock.Now()))
	sub, err = f.b.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "growth"})
	require.NoError(t, err)
	assert.Equal(t, "growth", sub.Plan)
	require.Len(t, sub.Phases, 1)
	require.NoError(t, f.b.Entitle(ctx, "acme", "priority"))
	f.use(t, "acme", "deliveries", 1500, at(25, 12, 0))

	inv, err := f.b.Invoice(ctx, "acme", draft.ID)
	require.NoError(t, err)
	// Starter fee: 3000 × (9 d 13.5 h = 826,200 s) / 2,678,400 s = 925.4 → 925; its usage as
	// before (400 + 150). Growth fee: 9000 × (12 d = 1,036,800 s) / 2,678,400 s = 3483.9 →
	// 3484. Growth deliveries, graduated: 1000 × 1.5 + 500 × 1 = 2000.
	assert.Equal(t, map[string]int64{
		"starter/fee": 925, "starter/deliveries": 400, "starter/sms": 150, "growth/fee": 3484, "growth/deliveries": 2000,
	}, lineAmounts(inv))
	assert.Equal(t, int64(6959), inv.Total)

	// Half an hour into April, within the one-hour grace: late usage adjusts March's draft.
	f.clock.Advance(time.Date(2026, 4, 1, 0, 30, 0, 0, time.UTC).Sub(f.clock.Now()))
	f.use(t, "acme", "deliveries", 10, at(31, 23, 0))
	invs, err = f.b.Invoices(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, invs, 2, "April's draft and March's, still open")
	assert.Equal(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), invs[0].PeriodStart)
	assert.Equal(t, billing.InvoiceDraft, invs[1].Status)
	assert.Equal(t, int64(6969), invs[1].Total, "10 more deliveries at 1p")

	// Past the grace, March is finalised on the next read and never changes again.
	f.clock.Advance(31 * time.Minute)
	_, err = f.b.Invoices(ctx, "acme")
	require.NoError(t, err)
	f.use(t, "acme", "deliveries", 1000, at(31, 23, 30))
	invs, err = f.b.Invoices(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, invs, 2)
	assert.Equal(t, billing.InvoiceFinalized, invs[1].Status)
	assert.Equal(t, draft.ID, invs[1].ID, "the draft's id is the invoice's id")
	assert.Equal(t, int64(6969), invs[1].Total, "usage after the grace does not change a finalised invoice")
	n, err := f.b.FinalizeDue(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "finalising is idempotent")
	assert.Contains(t, f.note.types(), billing.EventInvoiceFinalized)
	assert.Contains(t, f.note.types(), billing.EventSubscriptionChanged)

	_, err = f.b.Invoice(ctx, "beta", draft.ID)
	assert.ErrorIs(t, err, billing.ErrNotFound, "another consumer's invoice does not exist for beta")

	// April: growth only (the starter phase was billed and dropped), full fee.
	april, err := f.b.Invoice(ctx, "acme", invs[0].ID)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"growth/fee": 9000, "growth/deliveries": 0}, lineAmounts(april))

	// Cancel at the period's end: the plan holds until then, then the subscription ends.
	sub, err = f.b.Cancel(ctx, "acme", true)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), sub.CancelAt)
	f.clock.Advance(31 * 24 * time.Hour)
	sub, err = f.b.Subscription(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, billing.StatusCanceled, sub.Status)
	err = f.b.Entitle(ctx, "acme", "priority")
	assert.ErrorIs(t, err, billing.ErrNotEntitled, "a canceled consumer falls back to the default plan")
	invs, err = f.b.Invoices(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, invs, 2, "March and April finalised; nothing opens after the end")
	assert.Equal(t, billing.InvoiceFinalized, invs[0].Status)
}

func TestChangeAtPeriodEndAndTrial(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	plans := testPlans()
	plans[2].TrialDays = 14
	f := newBiller(t, at(1, 0, 0), func(c *billing.Config) { c.Plans = plans; c.Location = time.UTC })

	sub, err := f.b.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "growth"})
	require.NoError(t, err)
	assert.Equal(t, billing.StatusTrialing, sub.Status)
	assert.Equal(t, at(15, 0, 0), sub.TrialEnd)
	f.use(t, "acme", "deliveries", 500, at(5, 0, 0)) // during the trial: free
	f.use(t, "acme", "deliveries", 200, at(20, 0, 0))
	sub, err = f.b.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "starter", AtPeriodEnd: true})
	require.NoError(t, err)
	assert.Equal(t, "growth", sub.Plan)
	assert.Equal(t, "starter", sub.PendingPlan)

	f.clock.Advance(at(20, 0, 0).Sub(f.clock.Now()))
	sub, err = f.b.Subscription(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, billing.StatusActive, sub.Status, "the trial is over")
	inv, err := f.b.Invoice(ctx, "acme", billing.InvoiceID("acme", at(1, 0, 0)))
	require.NoError(t, err)
	// Growth from the trial's end (15 March) to 1 April: 9000 × 17/31 = 4935.5 → 4935
	// (half up on whole seconds: 4935.48). Deliveries after the trial: 200 × 1.5 = 300.
	assert.Equal(t, map[string]int64{"growth/fee": 4935, "growth/deliveries": 300}, lineAmounts(inv))

	f.clock.Advance(time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC).Sub(f.clock.Now()))
	sub, err = f.b.Subscription(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "starter", sub.Plan, "the change took effect at the period's end")
	assert.Empty(t, sub.PendingPlan)
	assert.Equal(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), sub.Since)
}

func TestPublishedVersionsAndMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newBiller(t, at(1, 0, 0), nil)
	_, err := f.b.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "starter"})
	require.NoError(t, err)

	v2 := testPlans()[1]
	v2.Version, v2.Fee = 2, 3500
	changed := testPlans()[1]
	changed.Fee = 1
	assert.ErrorIs(t, f.b.Publish(ctx, changed), billing.ErrPlanConflict, "a published version is immutable")
	require.NoError(t, f.b.Publish(ctx, v2))
	plans, err := f.b.Plans(ctx)
	require.NoError(t, err)
	require.Len(t, plans, 3)
	assert.Equal(t, 2, plans[1].Version, "newcomers get the newest version")

	sub, err := f.b.Subscription(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, 1, sub.PlanVersion, "subscribers stay on theirs")
	_, err = f.b.Migrate(ctx, "acme")
	require.NoError(t, err)
	f.clock.Advance(32 * 24 * time.Hour)
	sub, err = f.b.Subscription(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, 2, sub.PlanVersion, "migrated at the period's end")

	_, err = billing.New(ctx, billing.Config{Usage: f.usage, Plans: []billing.Plan{{Key: "Bad Key", Version: 1, Name: "x", Currency: "GBP"}}})
	assert.Error(t, err, "invalid plans are refused at construction")
	_, err = billing.New(ctx, billing.Config{})
	assert.Error(t, err, "usage is required")
	_, err = billing.New(ctx, billing.Config{Usage: f.usage, DefaultPlan: "nope"})
	assert.Error(t, err)
}

func TestAnniversaryPeriods(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newBiller(t, time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC), func(c *billing.Config) { c.Anniversary = true })
	sub, err := f.b.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "starter"})
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), sub.PeriodEnd, "the 31st falls back to February's last day")
	f.clock.Advance(40 * 24 * time.Hour) // 12 March
	sub, err = f.b.Subscription(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), sub.PeriodStart)
	assert.Equal(t, time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC), sub.PeriodEnd)
	inv, err := f.b.Invoice(ctx, "acme", billing.InvoiceID("acme", sub.PeriodStart))
	require.NoError(t, err)
	assert.Equal(t, int64(3000), lineAmounts(inv)["starter/fee"], "a whole period's fee, not prorated")
}

// Reaching a plan's limit is announced once per period as entitlement.exceeded.
func TestLimitReachedIsAnnouncedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newBiller(t, at(2, 0, 0), nil)
	_, err := f.b.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "free"})
	require.NoError(t, err)
	f.use(t, "acme", "deliveries", 60, at(3, 0, 0))
	_, err = f.b.FinalizeDue(ctx)
	require.NoError(t, err)
	assert.NotContains(t, f.note.types(), billing.EventEntitlementExceeded, "60 of 100")
	f.use(t, "acme", "deliveries", 40, at(4, 0, 0))
	for range 3 {
		_, err = f.b.FinalizeDue(ctx)
		require.NoError(t, err)
	}
	count := 0
	for _, ty := range f.note.types() {
		if ty == billing.EventEntitlementExceeded {
			count++
		}
	}
	assert.Equal(t, 1, count, "once, however often it is checked")
	sub, err := f.b.Subscription(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, []string{"deliveries"}, sub.LimitsReached)

	f.clock.Advance(30 * 24 * time.Hour) // April: a fresh period
	sub, err = f.b.Subscription(ctx, "acme")
	require.NoError(t, err)
	assert.Empty(t, sub.LimitsReached)
}
