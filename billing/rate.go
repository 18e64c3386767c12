package billing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/metering"
)

// Invoices implements Account: the consumer's finalised invoices and the drafts of the
// periods still open (the current one, and the last one during its grace). Periods whose
// grace has passed are finalised first, so reading invoices needs no background job.
func (b *Biller) Invoices(ctx context.Context, consumer string) ([]Invoice, error) {
	s, err := b.settle(ctx, consumer)
	if errors.Is(err, ErrNotFound) {
		return b.store.Invoices(ctx, consumer)
	}
	if err != nil {
		return nil, err
	}
	stored, err := b.store.Invoices(ctx, consumer)
	if err != nil {
		return nil, err
	}
	drafts, err := b.drafts(ctx, s)
	if err != nil {
		return nil, err
	}
	out := append(drafts, stored...)
	SortInvoices(out)
	return out, nil
}

// Invoice implements Account.
func (b *Biller) Invoice(ctx context.Context, consumer, id string) (Invoice, error) {
	s, err := b.settle(ctx, consumer)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Invoice{}, err
	}
	if err == nil {
		drafts, err := b.drafts(ctx, s)
		if err != nil {
			return Invoice{}, err
		}
		for _, d := range drafts {
			if d.ID == id {
				return d, nil
			}
		}
	}
	return b.store.Invoice(ctx, consumer, id)
}

// FinalizeDue finalises every invoice whose period and grace have ended, for every
// subscription. Reading a consumer's invoices does the same for that consumer; a service
// runs FinalizeDue on a timer so invoices reach the provider without waiting for a reader.
func (b *Biller) FinalizeDue(ctx context.Context) (finalized int, err error) {
	subs, err := b.store.Subscriptions(ctx)
	if err != nil {
		return 0, err
	}
	for _, s := range subs {
		n, err := b.finalizeDue(ctx, s.Consumer)
		finalized += n
		if err != nil {
			return finalized, err
		}
	}
	return finalized, nil
}

// settle finalises what is due for consumer and returns the current subscription.
func (b *Biller) settle(ctx context.Context, consumer string) (Subscription, error) {
	if _, err := b.finalizeDue(ctx, consumer); err != nil {
		return Subscription{}, err
	}
	return b.Subscription(ctx, consumer)
}

// openPeriods lists the periods of s not yet finalised, up to the current one, with
// whether each is due (its end plus grace has passed).
func (b *Biller) openPeriods(s Subscription, now time.Time) (periods [][2]time.Time, due []bool) {
	from := s.Started
	if s.InvoicedThrough.After(from) {
		from = s.InvoicedThrough
	}
	last := now
	if !s.Ended.IsZero() && s.Ended.Before(last) {
		last = s.Ended
	}
	for at := from; !at.After(last); {
		start, end := periodAt(s.Started, at, b.loc, b.anniversary)
		if !s.Ended.IsZero() && !s.Ended.After(start) {
			break
		}
		periods = append(periods, [2]time.Time{start, end})
		closes := end
		if !s.Ended.IsZero() && s.Ended.Before(end) {
			closes = s.Ended
		}
		due = append(due, !now.Before(closes.Add(b.grace)))
		at = end
	}
	return periods, due
}

func (b *Biller) finalizeDue(ctx context.Context, consumer string) (int, error) {
	unlock := b.subLock.lock(consumer)
	defer unlock()
	stored, err := b.store.Subscription(ctx, consumer)
	if err != nil {
		return 0, err
	}
	now := b.now().UTC()
	s := b.advance(stored, now)
	periods, due := b.openPeriods(s, now)
	n := 0
	for i, p := range periods {
		if !due[i] {
			break
		}
		inv, err := b.rate(ctx, s, p[0], p[1])
		if err != nil {
			return n, err
		}
		inv.Status, inv.Finalized = InvoiceFinalized, now.Truncate(time.Second)
		if err := b.store.PutInvoice(ctx, inv); errors.Is(err, ErrInvoiceFinalized) || errors.Is(err, ErrInvoiceExists) {
			// Finalised already (by another replica, or before a crash): keep that one.
			if inv, err = b.store.Invoice(ctx, consumer, inv.ID); err != nil {
				return n, err
			}
		} else if err != nil {
			return n, err
		} else {
			n++
			b.collect(ctx, inv)
		}
		// Phases that ended with this period are billed and need not be kept.
		s.InvoicedThrough = p[1]
		kept := s.Phases[:0]
		for _, ph := range s.Phases {
			if ph.To.After(p[1]) {
				kept = append(kept, ph)
			}
		}
		s.Phases = kept
		if err := b.store.PutSubscription(ctx, s); err != nil {
			return n, err
		}
	}
	return n, b.checkLimits(ctx, s, now)
}

// checkLimits announces, once per period and meter, that the current period's usage has
// reached a limit of the consumer's plan (entitlement.exceeded), and records it in the
// subscription. Enforcement is ratelimit's (see QuotaPolicy); this tells the provider.
func (b *Biller) checkLimits(ctx context.Context, s Subscription, now time.Time) error {
	if !s.Ended.IsZero() {
		return nil
	}
	p := b.plan(s.Plan, s.PlanVersion)
	if p == nil || len(p.Limits) == 0 {
		return nil
	}
	var rows []metering.UsageRow
	var err error
	reached := false
	for meter, limit := range p.Limits {
		if slices.Contains(s.LimitsReached, meter) {
			continue
		}
		if rows == nil {
			rows, err = b.usage.Usage(ctx, metering.UsageQuery{Consumer: s.Consumer, Window: metering.Hour, From: s.PeriodStart.Truncate(time.Hour)})
			if err != nil {
				return fmt.Errorf("billing: usage of %s: %w", s.Consumer, err)
			}
		}
		if used := metering.Total(rows)[meter]; used >= limit {
			s.LimitsReached = append(s.LimitsReached, meter)
			reached = true
			b.notify(ctx, EventEntitlementExceeded, s.Consumer, now.Truncate(time.Second), map[string]any{
				"meter": meter, "limit": limit, "used": used, "plan": s.Plan, "period_start": s.PeriodStart,
			})
		}
	}
	if !reached {
		return nil
	}
	slices.Sort(s.LimitsReached)
	return b.store.PutSubscription(ctx, s)
}

// collect hands a newly finalised invoice to the provider and announces it. A provider
// failure is logged; the invoice stays finalised and can be collected again, since
// providers are idempotent on the invoice id.
func (b *Biller) collect(ctx context.Context, inv Invoice) {
	ctx = context.WithoutCancel(ctx)
	customer, err := b.provider.SyncCustomer(ctx, Customer{Consumer: inv.Consumer})
	if err == nil {
		_, err = b.provider.CollectInvoice(ctx, customer, inv)
	}
	if err != nil {
		b.log.Error("billing: invoice not collected", "invoice", inv.ID, "consumer", inv.Consumer, "error", err)
	}
	b.notifyID(ctx, "evt_"+inv.ID+"_finalized", EventInvoiceFinalized, inv.Consumer, inv.Finalized, inv)
}

// drafts rates the open periods that are not yet due.
func (b *Biller) drafts(ctx context.Context, s Subscription) ([]Invoice, error) {
	now := b.now().UTC()
	periods, due := b.openPeriods(s, now)
	var out []Invoice
	for i, p := range periods {
		if due[i] {
			continue
		}
		inv, err := b.rate(ctx, s, p[0], p[1])
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, nil
}

// InvoiceID is the id of the consumer's invoice for the period starting at start: derived
// from both, so rating a period again, on any replica, names the same invoice.
func InvoiceID(consumer string, start time.Time) string {
	h := sha256.Sum256([]byte(consumer + "\x00" + start.UTC().Format(time.RFC3339)))
	return "in_" + hex.EncodeToString(h[:12])
}

// segment is a span of a period spent on one plan version.
type segment struct {
	plan     *Plan
	from, to time.Time
}

// Rate computes the draft invoice of s for the period [start, end) from metered usage. It
// stores nothing and is deterministic: the same usage gives the same invoice, id and lines.
func (b *Biller) Rate(ctx context.Context, s Subscription, start, end time.Time) (Invoice, error) {
	return b.rate(ctx, s, start, end)
}

func (b *Biller) rate(ctx context.Context, s Subscription, start, end time.Time) (Invoice, error) {
	inv := Invoice{ID: InvoiceID(s.Consumer, start), Consumer: s.Consumer, Status: InvoiceDraft, PeriodStart: start, PeriodEnd: end}
	var segs []segment
	add := func(key string, version int, from, to time.Time) error {
		if to.IsZero() || to.After(end) {
			to = end
		}
		if from.Before(start) {
			from = start
		}
		if !s.TrialEnd.IsZero() && from.Before(s.TrialEnd) {
			from = s.TrialEnd // nothing is charged during a trial
		}
		if !from.Before(to) {
			return nil
		}
		p := b.plan(key, version)
		if p == nil {
			return fmt.Errorf("billing: %s's plan %s v%d is not published", s.Consumer, key, version)
		}
		segs = append(segs, segment{plan: p, from: from, to: to})
		return nil
	}
	for _, ph := range s.Phases {
		if err := add(ph.Plan, ph.PlanVersion, ph.From, ph.To); err != nil {
			return Invoice{}, err
		}
	}
	if err := add(s.Plan, s.PlanVersion, s.Since, s.Ended); err != nil {
		return Invoice{}, err
	}
	// A full period's length, for proration: the first period may start mid-month.
	anchor := time.Date(1, 1, s.Started.In(b.loc).Day(), 0, 0, 0, 0, b.loc) // the day periods start on
	if !b.anniversary {
		anchor = time.Date(1, 1, 1, 0, 0, 0, 0, b.loc)
	}
	fullStart, fullEnd := periodAt(anchor, start, b.loc, b.anniversary)
	full := fullEnd.Sub(fullStart)
	for _, sg := range segs {
		if inv.Currency == "" {
			inv.Currency = sg.plan.Currency
		}
		if sg.plan.Currency != inv.Currency {
			return Invoice{}, fmt.Errorf("billing: %s's period mixes %s and %s plans", s.Consumer, inv.Currency, sg.plan.Currency)
		}
		if sg.plan.Fee > 0 {
			fee, prorated := prorate(sg.plan.Fee, sg.to.Sub(sg.from), full)
			desc := sg.plan.Name + " plan"
			if prorated {
				desc += " (prorated)"
			}
			inv.Lines = append(inv.Lines, InvoiceLine{
				Description: desc, Plan: sg.plan.Key, Quantity: 1, Amount: fee, PeriodStart: sg.from, PeriodEnd: sg.to,
			})
		}
		if len(sg.plan.Prices) == 0 {
			continue
		}
		// Usage is kept per hour: an hour belongs to the segment it ends in.
		rows, err := b.usage.Usage(ctx, metering.UsageQuery{
			Consumer: s.Consumer, Window: metering.Hour, From: sg.from.Truncate(time.Hour), To: sg.to.Truncate(time.Hour),
		})
		if err != nil {
			return Invoice{}, fmt.Errorf("billing: usage of %s: %w", s.Consumer, err)
		}
		if sg.to.Equal(sg.from.Truncate(time.Hour)) {
			rows = nil
		}
		totals := metering.Total(rows)
		for _, pr := range sg.plan.Prices {
			c, err := pr.Rate(totals[pr.Meter])
			if err != nil {
				return Invoice{}, err
			}
			desc := pr.Description
			if desc == "" {
				desc = pr.Meter
			}
			inv.Lines = append(inv.Lines, InvoiceLine{
				Description: desc, Meter: pr.Meter, Plan: sg.plan.Key, Quantity: c.Quantity, UnitPrice: c.UnitPrice,
				Amount: c.Amount, PeriodStart: sg.from, PeriodEnd: sg.to, Tiers: c.Tiers,
			})
		}
	}
	for _, l := range inv.Lines {
		inv.Subtotal += l.Amount
	}
	inv.Total = inv.Subtotal
	return inv, nil
}

// prorate returns fee × part / full, rounded half up, and whether it is less than fee.
func prorate(fee int64, part, full time.Duration) (int64, bool) {
	if part >= full || full <= 0 {
		return fee, false
	}
	// Whole seconds, so a proration does not depend on sub-second timing.
	num := new(big.Int).Mul(big.NewInt(fee), big.NewInt(int64(part/time.Second)))
	den := big.NewInt(int64(full / time.Second))
	num.Add(num, new(big.Int).Quo(den, big.NewInt(2)))
	return num.Quo(num, den).Int64(), true
}
