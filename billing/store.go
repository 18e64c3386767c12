package billing

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
)

// Store keeps the catalog, the subscriptions and the invoices that are no longer drafts.
// Drafts are computed from usage whenever they are read and are never stored, so a late
// usage event changes a draft without any write. [MemoryStore] keeps everything in process;
// [OpenFileStore] adds a journal on disk; billing/pgstore keeps it in PostgreSQL.
// billing/billingtest.RunStore checks an implementation against this contract.
//
// Not found is [ErrNotFound]. Methods honour ctx cancellation for I/O.
type Store interface {
	// PutPlan publishes a plan version. Publishing an identical version again is a no-op;
	// different content under a published key and version is [ErrPlanConflict].
	PutPlan(ctx context.Context, p Plan) error
	// Plans returns every published version of every plan, by key then version.
	Plans(ctx context.Context) ([]Plan, error)

	// PutSubscription creates or replaces the consumer's subscription.
	PutSubscription(ctx context.Context, s Subscription) error
	// Subscription returns the consumer's subscription or ErrNotFound.
	Subscription(ctx context.Context, consumer string) (Subscription, error)
	// Subscriptions returns every subscription, by consumer.
	Subscriptions(ctx context.Context) ([]Subscription, error)

	// PutInvoice stores a finalised invoice, or a later status of it (paid, void). Storing
	// an invoice id again with other lines or totals is [ErrInvoiceFinalized]: a finalised
	// invoice never changes but for its status. Storing exactly what is stored is
	// [ErrInvoiceExists], so that of two replicas finalising one invoice only one goes on to
	// collect and announce it.
	PutInvoice(ctx context.Context, inv Invoice) error
	// Invoice returns one of the consumer's stored invoices or ErrNotFound, also when
	// the id belongs to another consumer.
	Invoice(ctx context.Context, consumer, id string) (Invoice, error)
	// Invoices returns the consumer's stored invoices, newest period first.
	Invoices(ctx context.Context, consumer string) ([]Invoice, error)
}

// ErrInvoiceFinalized reports an attempt to change a finalised invoice.
var ErrInvoiceFinalized = errors.New("billing: a finalised invoice cannot change")

// ErrInvoiceExists reports that the very invoice being stored is stored already.
var ErrInvoiceExists = errors.New("billing: the invoice is stored already")

// MemoryStore is a Store in process memory, for tests and single-process services that
// need nothing kept across a restart (see [OpenFileStore] for that). Safe for concurrent use.
type MemoryStore struct {
	mu       sync.RWMutex
	plans    map[planID]Plan
	subs     map[string]Subscription
	invoices map[string]map[string]Invoice // consumer -> id -> invoice
	// onChange, when set, is called with each accepted change under the lock, before it
	// is applied; an error refuses the change. The file store journals through it.
	onChange func(change) error
}

type planID struct {
	key     string
	version int
}

// change is one accepted write, as the file journal records it.
type change struct {
	Plan         *Plan         `json:"plan,omitempty"`
	Subscription *Subscription `json:"subscription,omitempty"`
	Invoice      *Invoice      `json:"invoice,omitempty"`
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{plans: map[planID]Plan{}, subs: map[string]Subscription{}, invoices: map[string]map[string]Invoice{}}
}

// PutPlan implements Store.
func (m *MemoryStore) PutPlan(ctx context.Context, p Plan) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := planID{p.Key, p.Version}
	if old, ok := m.plans[id]; ok {
		if samePlan(old, p) {
			return nil
		}
		return ErrPlanConflict
	}
	if err := m.journal(change{Plan: &p}); err != nil {
		return err
	}
	m.plans[id] = clonePlan(p)
	return nil
}

// Plans implements Store.
func (m *MemoryStore) Plans(ctx context.Context) ([]Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	out := make([]Plan, 0, len(m.plans))
	for _, p := range m.plans {
		out = append(out, clonePlan(p))
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b Plan) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return out, nil
}

// PutSubscription implements Store.
func (m *MemoryStore) PutSubscription(ctx context.Context, s Subscription) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.Consumer == "" {
		return errors.New("billing: subscription without a consumer")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.journal(change{Subscription: &s}); err != nil {
		return err
	}
	m.subs[s.Consumer] = cloneSub(s)
	return nil
}

// Subscription implements Store.
func (m *MemoryStore) Subscription(ctx context.Context, consumer string) (Subscription, error) {
	if err := ctx.Err(); err != nil {
		return Subscription{}, err
	}
	m.mu.RLock()
	s, ok := m.subs[consumer]
	m.mu.RUnlock()
	if !ok {
		return Subscription{}, ErrNotFound
	}
	return cloneSub(s), nil
}

// Subscriptions implements Store.
func (m *MemoryStore) Subscriptions(ctx context.Context) ([]Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	out := make([]Subscription, 0, len(m.subs))
	for _, s := range m.subs {
		out = append(out, cloneSub(s))
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b Subscription) int { return strings.Compare(a.Consumer, b.Consumer) })
	return out, nil
}

// PutInvoice implements Store.
func (m *MemoryStore) PutInvoice(ctx context.Context, inv Invoice) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if inv.Consumer == "" || inv.ID == "" {
		return errors.New("billing: invoice without a consumer or id")
	}
	if inv.Status == InvoiceDraft {
		return errors.New("billing: drafts are computed, not stored")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.invoices[inv.Consumer][inv.ID]; ok {
		if !sameInvoice(old, inv) {
			return ErrInvoiceFinalized
		}
		if old.Status == inv.Status {
			return ErrInvoiceExists
		}
	}
	if err := m.journal(change{Invoice: &inv}); err != nil {
		return err
	}
	if m.invoices[inv.Consumer] == nil {
		m.invoices[inv.Consumer] = map[string]Invoice{}
	}
	m.invoices[inv.Consumer][inv.ID] = cloneInvoice(inv)
	return nil
}

// Invoice implements Store.
func (m *MemoryStore) Invoice(ctx context.Context, consumer, id string) (Invoice, error) {
	if err := ctx.Err(); err != nil {
		return Invoice{}, err
	}
	m.mu.RLock()
	inv, ok := m.invoices[consumer][id]
	m.mu.RUnlock()
	if !ok {
		return Invoice{}, ErrNotFound
	}
	return cloneInvoice(inv), nil
}

// Invoices implements Store.
func (m *MemoryStore) Invoices(ctx context.Context, consumer string) ([]Invoice, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	out := make([]Invoice, 0, len(m.invoices[consumer]))
	for _, inv := range m.invoices[consumer] {
		out = append(out, cloneInvoice(inv))
	}
	m.mu.RUnlock()
	SortInvoices(out)
	return out, nil
}

// SortInvoices orders invoices newest period first, then by id.
func SortInvoices(invs []Invoice) {
	slices.SortFunc(invs, func(a, b Invoice) int {
		if c := b.PeriodStart.Compare(a.PeriodStart); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func (m *MemoryStore) journal(c change) error {
	if m.onChange == nil {
		return nil
	}
	return m.onChange(c)
}

// apply replays a journalled change without journalling it again.
func (m *MemoryStore) apply(c change) {
	switch {
	case c.Plan != nil:
		m.plans[planID{c.Plan.Key, c.Plan.Version}] = *c.Plan
	case c.Subscription != nil:
		m.subs[c.Subscription.Consumer] = *c.Subscription
	case c.Invoice != nil:
		if m.invoices[c.Invoice.Consumer] == nil {
			m.invoices[c.Invoice.Consumer] = map[string]Invoice{}
		}
		m.invoices[c.Invoice.Consumer][c.Invoice.ID] = *c.Invoice
	}
}

// sameInvoice reports whether b may replace a: the same invoice, at most with a later
// status (finalized → paid or void).
func sameInvoice(a, b Invoice) bool {
	if a.Status == InvoicePaid || a.Status == InvoiceVoid {
		if b.Status != a.Status {
			return false
		}
	}
	a.Status, b.Status = "", ""
	return equalJSON(a, b)
}

func samePlan(a, b Plan) bool { return equalJSON(a, b) }
