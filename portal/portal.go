package portal

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

// Config configures a [Portal].
type Config struct {
	// Keys issues and verifies the consumers' API keys; its store must be an
	// auth.KeyWriter and an auth.KeyLister (every store in auth and auth/pgkeystore is).
	Keys *auth.Keys
	// Usage reads the consumers' metered usage.
	Usage metering.UsageReader
	// Account is the consumer's plan and invoices; nil means the portal shows no plan
	// and keys are limited by Scopes alone.
	Account billing.Account
	// Scopes are the scopes a consumer may put on its own keys. A plan's Scopes (from
	// Account) narrow them further. Empty means the scopes of the key the consumer signed
	// in with: a consumer never grants more than it holds.
	Scopes []string
	// AdminScope is the scope of the provider operations; empty means "tollgate:admin".
	AdminScope string
	// MaxKeys is how many live keys a consumer may hold; zero means 20.
	MaxKeys int
	// MaxGrace bounds the grace period of a rotation; zero means 7 days.
	MaxGrace time.Duration
	// MaxRange bounds the days of one usage query; zero means 92.
	MaxRange int
	// Signup enables self-service signup; nil means it is off.
	Signup *SignupConfig
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SignupConfig enables POST /signup: a public operation that creates a consumer and its
// first key.
type SignupConfig struct {
	// Scopes are the scopes of the first key; required.
	Scopes []string
	// Plan is started for the new consumer through Config.Account; empty means none (the
	// billing default plan applies).
	Plan string
	// Invitation, when set, makes signup by invitation only: it checks the token and
	// returns the consumer id to create, or an error for an unknown or used token.
	// Refused tokens count as failed attempts on Throttle.
	Invitation func(ctx context.Context, token string) (consumer string, err error)
	// Limiter and PerAddress limit signups per client address, for example
	// ratelimit.PerHour(5); both are required, since open signup without a limit invites
	// abuse.
	Limiter    *ratelimit.Limiter
	PerAddress ratelimit.Rate
	// Throttle is the failed-auth throttle that refused invitations count against; nil
	// means none.
	Throttle auth.Throttle
	// TrustedProxies lists the proxies whose X-Forwarded-For names the client; empty
	// trusts none.
	TrustedProxies []netip.Prefix
}

// Portal is the consumer self-service API and its web page.
type Portal struct {
	keys       *auth.Keys
	writer     auth.KeyWriter
	lister     auth.KeyLister
	usage      metering.UsageReader
	account    billing.Account
	scopes     []string
	adminScope string
	maxKeys    int
	maxGrace   time.Duration
	maxRange   int
	signup     *SignupConfig
	now        func() time.Time
}

// New returns a Portal, or an error when cfg is incomplete.
func New(cfg Config) (*Portal, error) {
	if cfg.Keys == nil || cfg.Usage == nil {
		return nil, errors.New("portal: Config.Keys and Config.Usage are required")
	}
	w, ok := cfg.Keys.Store().(auth.KeyWriter)
	if !ok {
		return nil, fmt.Errorf("portal: key store %T cannot issue keys (no auth.KeyWriter)", cfg.Keys.Store())
	}
	l, ok := cfg.Keys.Store().(auth.KeyLister)
	if !ok {
		return nil, fmt.Errorf("portal: key store %T cannot list keys (no auth.KeyLister)", cfg.Keys.Store())
	}
	p := &Portal{
		keys: cfg.Keys, writer: w, lister: l, usage: cfg.Usage, account: cfg.Account,
		scopes: slices.Clone(cfg.Scopes), adminScope: cfg.AdminScope, maxKeys: cfg.MaxKeys,
		maxGrace: cfg.MaxGrace, maxRange: cfg.MaxRange, signup: cfg.Signup, now: cfg.Now,
	}
	if p.adminScope == "" {
		p.adminScope = "tollgate:admin"
	}
	if p.maxKeys <= 0 {
		p.maxKeys = 20
	}
	if p.maxGrace <= 0 {
		p.maxGrace = 7 * 24 * time.Hour
	}
	if p.maxRange <= 0 {
		p.maxRange = 92
	}
	if p.now == nil {
		p.now = time.Now
	}
	if s := cfg.Signup; s != nil {
		if len(s.Scopes) == 0 {
			return nil, errors.New("portal: SignupConfig.Scopes is required")
		}
		if s.Limiter == nil || s.PerAddress.IsZero() {
			return nil, errors.New("portal: SignupConfig needs a Limiter and a PerAddress rate")
		}
		if err := s.PerAddress.Validate(); err != nil {
			return nil, fmt.Errorf("portal: SignupConfig.PerAddress: %w", err)
		}
		if s.Plan != "" && cfg.Account == nil {
			return nil, errors.New("portal: SignupConfig.Plan needs Config.Account")
		}
	}
	return p, nil
}

// AdminScope returns the scope the provider operations require.
func (p *Portal) AdminScope() string { return p.adminScope }

// allowedScopes is what the caller may put on a new key: the configured scopes (or its
// own), narrowed by its plan's.
func (p *Portal) allowedScopes(ctx context.Context, caller *auth.Principal) ([]string, error) {
	allowed := p.scopes
	if len(allowed) == 0 {
		allowed = caller.Scopes
	}
	allowed = slices.DeleteFunc(slices.Clone(allowed), func(s string) bool { return s == p.adminScope })
	if p.account == nil {
		return allowed, nil
	}
	planKey := caller.Plan
	if sub, err := p.account.Subscription(ctx, caller.Consumer); err == nil && sub.Ended.IsZero() {
		planKey = sub.Plan
	} else if err != nil && !errors.Is(err, billing.ErrNotFound) {
		return nil, err
	}
	plans, err := p.account.Plans(ctx)
	if err != nil {
		return nil, err
	}
	for _, pl := range plans {
		if pl.Key == planKey && len(pl.Scopes) > 0 {
			return slices.DeleteFunc(allowed, func(s string) bool { return !slices.Contains(pl.Scopes, s) }), nil
		}
	}
	return allowed, nil
}
