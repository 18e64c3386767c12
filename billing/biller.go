package billing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/metering"
)

// Config configures a [Biller].
type Config struct {
	// Usage reads metered usage (a metering.Store or metering/pgsink); required.
	Usage metering.UsageReader
	// Store keeps plans, subscriptions and invoices; nil means a [MemoryStore].
	Store Store
	// Plans are published when the Biller starts (already published versions must match).
	Plans []Plan
	// DefaultPlan is the plan key a consumer without a subscription is treated as being on
	// for entitlements and is started on when first billed; empty means such consumers have
	// no entitlements and no invoices.
	DefaultPlan string
	// Location is the time zone of billing periods; nil means UTC.
	Location *time.Location
	// Anniversary anchors billing periods on the day of the month a subscription started;
	// false means calendar months, the first one partial, matching calendar quotas.
	Anniversary bool
	// Grace is how long after a period ends its invoice stays a draft, so usage recorded
	// late (a spool drained after an outage) is still billed; zero means one hour.
	Grace time.Duration
	// Provider collects finalised invoices; nil means [ManualProvider].
	Provider Provider
	// Notifier receives invoice.finalized and subscription.changed events; nil means none.
	Notifier Notifier
	// CacheTTL bounds how long another replica's plan change takes to reach this one's
	// entitlement checks; zero means 30 seconds. Changes made through this Biller apply at
	// once.
	CacheTTL time.Duration
	// Logger receives failures of background work (collecting an invoice); nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Biller turns metered usage into invoices under each consumer's plan, and answers
// entitlement checks on the request path. It implements [Account] for the consumer-facing
// API. It is safe for concurrent use.
type Biller struct {
	usage       metering.UsageReader
	store       Store
	defaultPlan string
	loc         *time.Location
	anniversary bool
	grace       time.Duration
	provider    Provider
	notifier    Notifier
	ttl         time.Duration
	log         *slog.Logger
	now         func() time.Time

	mu      sync.RWMutex
	plans   map[planID]*Plan
	latest  map[string]*Plan // newest version per key
	ents    map[string]*entitlement
	subLock keyedMutex
}

var _ Account = (*Biller)(nil)

// New returns a Biller, publishing cfg.Plans, or an error when the configuration or a plan
// is invalid.
func New(ctx context.Context, cfg Config) (*Biller, error) {
	if cfg.Usage == nil {
		return nil, errors.New("billing: Config.Usage is required: invoices are rated from metered usage")
	}
	b := &Biller{
		usage: cfg.Usage, store: cfg.Store, defaultPlan: cfg.DefaultPlan, loc: cfg.Location,
		anniversary: cfg.Anniversary, grace: cfg.Grace, provider: cfg.Provider, notifier: cfg.Notifier,
		ttl: cfg.CacheTTL, log: cfg.Logger, now: cfg.Now,
		plans: map[planID]*Plan{}, latest: map[string]*Plan{}, ents: map[string]*entitlement{},
	}
	if b.store == nil {
		b.store = NewMemoryStore()
	}
	if b.loc == nil {
		b.loc = time.UTC
	}
	if b.grace == 0 {
		b.grace = time.Hour
	}
	if b.grace < 0 {
		return nil, errors.New("billing: negative Grace")
	}
	if b.provider == nil {
		b.provider = ManualProvider{}
	}
	if b.ttl == 0 {
		b.ttl = 30 * time.Second
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.now == nil {
		b.now = time.Now
	}
	for _, p := range cfg.Plans {
		if err := b.store.PutPlan(ctx, p); err != nil {
			return nil, fmt.Errorf("billing: publish plan %s v%d: %w", p.Key, p.Version, err)
		}
	}
	if err := b.loadPlans(ctx); err != nil {
		return nil, err
	}
	if b.defaultPlan != "" && b.latest[b.defaultPlan] == nil {
		return nil, fmt.Errorf("billing: DefaultPlan %q is not a published plan", b.defaultPlan)
	}
	return b, nil
}

func (b *Biller) loadPlans(ctx context.Context) error {
	plans, err := b.store.Plans(ctx)
	if err != nil {
		return fmt.Errorf("billing: load plans: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range plans {
		p := &plans[i]
		b.plans[planID{p.Key, p.Version}] = p
		if l := b.latest[p.Key]; l == nil || l.Version < p.Version {
			b.latest[p.Key] = p
		}
	}
	return nil
}

// Publish publishes a plan version; consumers choosing the plan from now on get it, while
// current subscribers stay on their version until moved with [Biller.Migrate].
func (b *Biller) Publish(ctx context.Context, p Plan) error {
	if err := b.store.PutPlan(ctx, p); err != nil {
		return err
	}
	return b.loadPlans(ctx)
}

// plan returns a published version, or the newest when version is 0.
func (b *Biller) plan(key string, version int) *Plan {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if version == 0 {
		return b.latest[key]
	}
	return b.plans[planID{key, version}]
}

// Plans implements Account: the newest version of every plan on offer, by key.
func (b *Biller) Plans(context.Context) ([]PlanSummary, error) {
	b.mu.RLock()
	out := make([]PlanSummary, 0, len(b.latest))
	for _, p := range b.latest {
		if !p.Hidden {
			out = append(out, p.Summary())
		}
	}
	b.mu.RUnlock()
	slices.SortFunc(out, func(a, b PlanSummary) int {
		if c := cmp.Compare(a.Fee.Amount, b.Fee.Amount); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

// PlansWith returns the keys of the offered plans that grant feature, cheapest first.
func (b *Biller) PlansWith(feature string) []string {
	summaries, _ := b.Plans(context.Background())
	var out []string
	for _, s := range summaries {
		if slices.Contains(s.Features, feature) {
			out = append(out, s.Key)
		}
	}
	return out
}

// keyedMutex serialises changes to one consumer's subscription within this process; the
// store's last write wins across processes.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
