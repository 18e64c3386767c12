package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/tollgate-dev/tollgate/internal/clientip"
)

// Config configures a [Limiter]. The zero value limits nothing until operations ask for it
// with [Limit] or [Quota], and keeps state in process.
type Config struct {
	// Store keeps the limits; nil means a [MemoryStore] using Now.
	Store Store
	// Now is the clock used for the in-process store and for calendar periods in headers;
	// nil means time.Now.
	Now func() time.Time
	// Location is the time zone of calendar quotas whose Rate has none; nil means UTC.
	Location *time.Location
	// Policies apply to every request that passes through the middleware, before the
	// policies an operation adds with [Limit], [Quota] or [Apply].
	Policies []Policy
	// TrustedProxies lists the networks of the proxies in front of the service. Keys by
	// client address read X-Forwarded-For (or ClientIPHeader) only when the connection comes
	// from one of them. Empty means the peer address is the client: trusting forwarding
	// headers by default would let any caller choose its own key and escape its limit.
	TrustedProxies []netip.Prefix
	// ClientIPHeader is the forwarding header set by the trusted proxies; empty means
	// X-Forwarded-For.
	ClientIPHeader string
	// LegacyHeaders adds X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset
	// (seconds until reset) for the most restrictive policy, for clients written against
	// the old convention.
	LegacyHeaders bool
	// QuotaStatus is the status of a response refused because a calendar quota is used up;
	// zero means 429. Some APIs prefer 402 or 403 so that clients do not retry until the
	// period ends; the problem type tells the two cases apart either way.
	QuotaStatus int
	// UnavailableRetryAfter is the Retry-After sent with a 503 when the store cannot decide
	// and fails closed; zero means one second.
	UnavailableRetryAfter time.Duration
}

// Limiter decides whether requests may proceed. Take is the decision for one key;
// Handler and Huma apply the configured and per-operation policies to HTTP requests.
type Limiter struct {
	store           Store
	mem             *MemoryStore // store, when it is the in-process one
	now             func() time.Time
	loc             *time.Location
	policies        []policy
	ip              clientip.Resolver
	legacy          bool
	quotaStatus     int
	unavailableWait time.Duration
}

// New returns a Limiter, or an error when cfg is invalid.
func New(cfg Config) (*Limiter, error) {
	l := &Limiter{
		store:           cfg.Store,
		now:             cfg.Now,
		loc:             cfg.Location,
		ip:              clientip.Resolver{TrustedProxies: cfg.TrustedProxies, Header: cfg.ClientIPHeader},
		legacy:          cfg.LegacyHeaders,
		quotaStatus:     cfg.QuotaStatus,
		unavailableWait: cfg.UnavailableRetryAfter,
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.loc == nil {
		l.loc = time.UTC
	}
	if l.quotaStatus == 0 {
		l.quotaStatus = http.StatusTooManyRequests
	}
	if l.quotaStatus < 400 || l.quotaStatus > 499 {
		return nil, fmt.Errorf("ratelimit: QuotaStatus %d is not a 4xx status", cfg.QuotaStatus)
	}
	if l.unavailableWait < 0 {
		return nil, errors.New("ratelimit: UnavailableRetryAfter must not be negative")
	}
	if l.unavailableWait == 0 {
		l.unavailableWait = time.Second
	}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("ratelimit: invalid trusted proxy prefix %v", p)
		}
	}
	policies, err := compile(cfg.Policies)
	if err != nil {
		return nil, err
	}
	if err := uniqueNames(policies); err != nil {
		return nil, err
	}
	l.policies = policies
	if l.store == nil {
		ms, err := NewMemoryStore(MemoryConfig{Now: l.now})
		if err != nil {
			return nil, err
		}
		l.store = ms
	}
	l.mem, _ = l.store.(*MemoryStore)
	return l, nil
}

// Take spends n units of rate for key and reports the result; see [Store] for the meaning
// of the result, errors and n == 0. The zero Rate is unlimited and always allowed.
func (l *Limiter) Take(ctx context.Context, key string, rate Rate, n int) (res Result, err error) {
	if n < 0 {
		return Result{}, errNegativeCost
	}
	if err := rate.Validate(); err != nil {
		return Result{}, err
	}
	if rate.Quota == 0 {
		return Result{Allowed: true}, nil // the zero Rate: only it passes Validate with no quota
	}
	if rate.Calendar != Smooth && rate.Location == nil {
		rate.Location = l.loc
	}
	if l.mem != nil {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		l.mem.decide(key, &rate, n).fill(&res, &rate)
		return res, nil
	}
	return l.store.Take(ctx, key, rate, n)
}
