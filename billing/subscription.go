package billing

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Subscription implements Account. The period returned is the current one: periods roll
// over, and changes and cancellations due at a period's end apply, as time passes, with no
// background job.
func (b *Biller) Subscription(ctx context.Context, consumer string) (Subscription, error) {
	s, err := b.store.Subscription(ctx, consumer)
	if err != nil {
		return Subscription{}, err
	}
	return b.advance(s, b.now()), nil
}

// advance rolls s forward to the period containing now, applying what was due at each
// period end on the way.
func (b *Biller) advance(s Subscription, now time.Time) Subscription {
	now = now.UTC()
	for s.Ended.IsZero() && !now.Before(s.PeriodEnd) {
		boundary := s.PeriodEnd
		if !s.CancelAt.IsZero() && !s.CancelAt.After(boundary) {
			s.Phases = append(s.Phases, Phase{Plan: s.Plan, PlanVersion: s.PlanVersion, From: s.Since, To: s.CancelAt})
			s.Status, s.Ended, s.CancelAt = StatusCanceled, s.CancelAt, time.Time{}
			break
		}
		if s.PendingPlan != "" {
			if np := b.plan(s.PendingPlan, 0); np != nil {
				s.Phases = append(s.Phases, Phase{Plan: s.Plan, PlanVersion: s.PlanVersion, From: s.Since, To: boundary})
				s.Plan, s.PlanVersion, s.Since = np.Key, np.Version, boundary
			}
			s.PendingPlan = ""
		}
		s.PeriodStart, s.PeriodEnd = periodAt(s.Started, boundary, b.loc, b.anniversary)
		s.LimitsReached = nil // a new period starts with its limits fresh
	}
	if s.Status == StatusTrialing && !now.Before(s.TrialEnd) {
		s.Status = StatusActive
	}
	return s
}

// ChangePlan implements Account. Without a subscription it starts one (with the plan's
// trial, if any); a canceled subscription is resumed. A change takes effect now, with the
// period's fee prorated between the plans, or at the end of the period. Changing plan also
// withdraws a pending cancellation.
func (b *Biller) ChangePlan(ctx context.Context, consumer string, change PlanChange) (Subscription, error) {
	np := b.plan(change.Plan, 0)
	if np == nil || np.Hidden {
		return Subscription{}, ErrNotFound
	}
	return b.modify(ctx, consumer, func(s *Subscription, now time.Time) error {
		switch {
		case s.ID == "":
			*s = b.start(consumer, np, now)
			return nil
		case !s.Ended.IsZero():
			// The canceled phase was recorded when it ended.
			s.Status, s.Ended, s.Plan, s.PlanVersion, s.Since = StatusActive, time.Time{}, np.Key, np.Version, now
			s.PeriodStart, s.PeriodEnd = periodAt(s.Started, now, b.loc, b.anniversary)
			return nil
		case change.AtPeriodEnd:
			if np.Key == s.Plan {
				if s.PendingPlan == "" && s.CancelAt.IsZero() {
					return &PlanChangeError{Reason: "already on plan " + np.Key}
				}
				s.PendingPlan = "" // staying: withdraw the pending change
			} else {
				s.PendingPlan = np.Key
			}
		default:
			if np.Key == s.Plan && np.Version == s.PlanVersion {
				if s.PendingPlan == "" && s.CancelAt.IsZero() {
					return &PlanChangeError{Reason: "already on plan " + np.Key}
				}
			} else {
				s.Phases = append(s.Phases, Phase{Plan: s.Plan, PlanVersion: s.PlanVersion, From: s.Since, To: now})
				s.Plan, s.PlanVersion, s.Since = np.Key, np.Version, now
			}
			s.PendingPlan = ""
		}
		s.CancelAt = time.Time{}
		return nil
	})
}

// Cancel ends the consumer's subscription now (the period's fee prorated to this moment)
// or at the end of the current period.
func (b *Biller) Cancel(ctx context.Context, consumer string, atPeriodEnd bool) (Subscription, error) {
	return b.modify(ctx, consumer, func(s *Subscription, now time.Time) error {
		switch {
		case s.ID == "":
			return ErrNotFound
		case !s.Ended.IsZero():
			return &PlanChangeError{Reason: "the subscription is already canceled"}
		case atPeriodEnd:
			s.CancelAt, s.PendingPlan = s.PeriodEnd, ""
		default:
			s.Phases = append(s.Phases, Phase{Plan: s.Plan, PlanVersion: s.PlanVersion, From: s.Since, To: now})
			s.Status, s.Ended, s.CancelAt, s.PendingPlan = StatusCanceled, now, time.Time{}, ""
		}
		return nil
	})
}

// Migrate moves a subscriber to the newest version of its plan at the end of the current
// period; it is a no-op when the subscriber is on the newest version already.
func (b *Biller) Migrate(ctx context.Context, consumer string) (Subscription, error) {
	return b.modify(ctx, consumer, func(s *Subscription, _ time.Time) error {
		if s.ID == "" {
			return ErrNotFound
		}
		if l := b.plan(s.Plan, 0); l != nil && l.Version > s.PlanVersion && s.PendingPlan == "" {
			s.PendingPlan = s.Plan
		}
		return nil
	})
}

// start is a new subscription to p.
func (b *Biller) start(consumer string, p *Plan, now time.Time) Subscription {
	s := Subscription{
		ID: "sub_" + randomID(), Consumer: consumer, Plan: p.Key, PlanVersion: p.Version,
		Status: StatusActive, Started: now, Since: now,
	}
	if p.TrialDays > 0 {
		s.Status, s.TrialEnd = StatusTrialing, now.AddDate(0, 0, p.TrialDays)
	}
	s.PeriodStart, s.PeriodEnd = periodAt(now, now, b.loc, b.anniversary)
	return s
}

// modify applies edit to the consumer's current subscription (the zero Subscription when
// there is none) and stores the result, serialised per consumer in this process.
func (b *Biller) modify(ctx context.Context, consumer string, edit func(*Subscription, time.Time) error) (Subscription, error) {
	if consumer == "" {
		return Subscription{}, errors.New("billing: no consumer")
	}
	unlock := b.subLock.lock(consumer)
	defer unlock()
	now := b.now().UTC().Truncate(time.Second)
	s, err := b.store.Subscription(ctx, consumer)
	switch {
	case errors.Is(err, ErrNotFound):
		s = Subscription{}
	case err != nil:
		return Subscription{}, err
	default:
		s = b.advance(s, now)
	}
	if err := edit(&s, now); err != nil {
		return Subscription{}, err
	}
	if err := b.store.PutSubscription(ctx, s); err != nil {
		return Subscription{}, err
	}
	b.forget(consumer)
	b.notify(ctx, EventSubscriptionChanged, consumer, now, s)
	return s, nil
}

// notify hands an event to the Notifier. A failure is logged: the change it reports is
// already stored and must not be reported to the caller as failed.
func (b *Biller) notify(ctx context.Context, typ, consumer string, at time.Time, data any) {
	b.notifyID(ctx, "evt_"+randomID(), typ, consumer, at, data)
}

// notifyID is notify with a given event id, for events that must be announced once
// whichever replica detects them (an invoice finalised), so receivers deduplicate.
func (b *Biller) notifyID(ctx context.Context, id, typ, consumer string, at time.Time, data any) {
	if b.notifier == nil {
		return
	}
	raw, err := json.Marshal(data)
	if err == nil {
		err = b.notifier.Notify(context.WithoutCancel(ctx), Event{ID: id, Type: typ, Time: at, Consumer: consumer, Data: raw})
	}
	if err != nil {
		b.log.Error("billing: event not recorded", "type", typ, "consumer", consumer, "error", err)
	}
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}
