// Package billingtest checks billing.Store implementations against the contract, so the
// in-process stores and every backend behave alike.
package billingtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/billing"
)

// RunStore runs the conformance suite. newStore returns an empty store; reopen, when not
// nil, returns a store over the same data as the one given (after closing it), to check
// that acknowledged writes survive.
func RunStore(t *testing.T, newStore func(t *testing.T) billing.Store, reopen func(t *testing.T, s billing.Store) billing.Store) {
	ctx := context.Background()
	plan := billing.Plan{
		Key: "starter", Version: 1, Name: "Starter", Currency: "GBP", Fee: 900,
		Prices:   []billing.Price{{Meter: "calls", Model: billing.PerUnit, Unit: billing.MustUnitPrice("0.5"), Free: 100}},
		Features: []string{"webhooks"}, Limits: map[string]int64{"calls": 10_000},
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

	t.Run("plans", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.PutPlan(ctx, plan))
		require.NoError(t, s.PutPlan(ctx, plan), "publishing the same version again is a no-op")
		changed := plan
		changed.Fee = 1200
		assert.ErrorIs(t, s.PutPlan(ctx, changed), billing.ErrPlanConflict, "a published version never changes")
		changed.Version = 2
		require.NoError(t, s.PutPlan(ctx, changed))
		other := plan
		other.Key, other.Name = "free", "Free"
		require.NoError(t, s.PutPlan(ctx, other))
		invalid := plan
		invalid.Currency = "pounds"
		assert.Error(t, s.PutPlan(ctx, invalid))

		plans, err := s.Plans(ctx)
		require.NoError(t, err)
		require.Len(t, plans, 3)
		assert.Equal(t, []string{"free", "starter", "starter"}, []string{plans[0].Key, plans[1].Key, plans[2].Key})
		assert.Equal(t, []int{1, 1, 2}, []int{plans[0].Version, plans[1].Version, plans[2].Version})
		assert.Equal(t, plan.Prices, plans[1].Prices)
		assert.Equal(t, int64(1200), plans[2].Fee)
		plans[1].Features[0] = "edited"
		again, err := s.Plans(ctx)
		require.NoError(t, err)
		assert.Equal(t, "webhooks", again[1].Features[0], "callers get copies")
	})

	t.Run("subscriptions", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Subscription(ctx, "acme")
		assert.ErrorIs(t, err, billing.ErrNotFound)
		sub := billing.Subscription{
			ID: "sub_1", Consumer: "acme", Plan: "starter", PlanVersion: 1, Status: billing.StatusActive,
			Started: t0, Since: t0.Add(time.Hour), PeriodStart: t0, PeriodEnd: t0.AddDate(0, 1, 0),
			Phases: []billing.Phase{{Plan: "free", PlanVersion: 1, From: t0, To: t0.Add(time.Hour)}},
		}
		require.NoError(t, s.PutSubscription(ctx, sub))
		got, err := s.Subscription(ctx, "acme")
		require.NoError(t, err)
		assert.True(t, got.Started.Equal(t0))
		assert.Equal(t, sub.Plan, got.Plan)
		require.Len(t, got.Phases, 1)
		assert.True(t, got.Phases[0].To.Equal(t0.Add(time.Hour)))

		sub.Plan, sub.PendingPlan = "growth", "free"
		require.NoError(t, s.PutSubscription(ctx, sub))
		require.NoError(t, s.PutSubscription(ctx, billing.Subscription{ID: "sub_2", Consumer: "beta", Plan: "free", PlanVersion: 1, Status: billing.StatusActive, Started: t0, Since: t0}))
		all, err := s.Subscriptions(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, "acme", all[0].Consumer)
		assert.Equal(t, "growth", all[0].Plan)
		assert.Equal(t, "free", all[0].PendingPlan)
		assert.Error(t, s.PutSubscription(ctx, billing.Subscription{ID: "x"}), "a subscription needs a consumer")
	})

	t.Run("invoices", func(t *testing.T) {
		s := newStore(t)
		inv := billing.Invoice{
			ID: "in_1", Consumer: "acme", Status: billing.InvoiceFinalized, PeriodStart: t0, PeriodEnd: t0.AddDate(0, 1, 0),
			Currency: "GBP", Subtotal: 950, Total: 950, Finalized: t0.AddDate(0, 1, 1),
			Lines: []billing.InvoiceLine{{Description: "Calls", Meter: "calls", Quantity: 200, UnitPrice: "0.5", Amount: 50,
				Tiers: []billing.TierAmount{{UpTo: 100, Quantity: 100, Unit: "0"}, {Quantity: 100, Unit: "0.5", Amount: 50}}}},
		}
		require.NoError(t, s.PutInvoice(ctx, inv))
		assert.ErrorIs(t, s.PutInvoice(ctx, inv), billing.ErrInvoiceExists, "storing the same invoice again changes nothing and says so")
		changed := inv
		changed.Total = 1
		assert.ErrorIs(t, s.PutInvoice(ctx, changed), billing.ErrInvoiceFinalized)
		paid := inv
		paid.Status = billing.InvoicePaid
		require.NoError(t, s.PutInvoice(ctx, paid), "a finalised invoice may be marked paid")
		back := inv
		assert.ErrorIs(t, s.PutInvoice(ctx, back), billing.ErrInvoiceFinalized, "but a paid one not reopened")
		draft := inv
		draft.ID, draft.Status = "in_d", billing.InvoiceDraft
		assert.Error(t, s.PutInvoice(ctx, draft), "drafts are not stored")

		older := inv
		older.ID, older.PeriodStart, older.PeriodEnd = "in_0", t0.AddDate(0, -1, 0), t0
		require.NoError(t, s.PutInvoice(ctx, older))
		got, err := s.Invoice(ctx, "acme", "in_1")
		require.NoError(t, err)
		assert.Equal(t, billing.InvoicePaid, got.Status)
		assert.Equal(t, inv.Lines, got.Lines)
		_, err = s.Invoice(ctx, "beta", "in_1")
		assert.ErrorIs(t, err, billing.ErrNotFound, "another consumer's invoice is not found")
		list, err := s.Invoices(ctx, "acme")
		require.NoError(t, err)
		require.Len(t, list, 2)
		assert.Equal(t, "in_1", list[0].ID, "newest period first")
		none, err := s.Invoices(ctx, "beta")
		require.NoError(t, err)
		assert.Empty(t, none)
	})

	t.Run("cancelled context", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		assert.Error(t, s.PutPlan(cctx, plan))
		_, err := s.Plans(cctx)
		assert.Error(t, err)
	})

	if reopen != nil {
		t.Run("durable", func(t *testing.T) {
			s := newStore(t)
			require.NoError(t, s.PutPlan(ctx, plan))
			require.NoError(t, s.PutSubscription(ctx, billing.Subscription{ID: "sub_1", Consumer: "acme", Plan: "starter", PlanVersion: 1, Status: billing.StatusActive, Started: t0, Since: t0}))
			require.NoError(t, s.PutInvoice(ctx, billing.Invoice{ID: "in_1", Consumer: "acme", Status: billing.InvoiceFinalized, PeriodStart: t0, Currency: "GBP", Total: 900}))
			s = reopen(t, s)
			plans, err := s.Plans(ctx)
			require.NoError(t, err)
			assert.Len(t, plans, 1)
			sub, err := s.Subscription(ctx, "acme")
			require.NoError(t, err)
			assert.Equal(t, "starter", sub.Plan)
			inv, err := s.Invoice(ctx, "acme", "in_1")
			require.NoError(t, err)
			assert.Equal(t, int64(900), inv.Total)
			changed := plan
			changed.Fee = 1
			assert.ErrorIs(t, s.PutPlan(ctx, changed), billing.ErrPlanConflict, "immutability holds across a reopen")
		})
	}
}
