package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tollgate-dev/tollgate/auth"
)

// AuthThrottleConfig configures an [AuthThrottle].
type AuthThrottleConfig struct {
	// Limiter counts the failures, in its store (in process, or Redis for many replicas).
	Limiter *Limiter
	// Rate is the failed attempts allowed per client address, for example
	// PerHour(20).WithBurst(5): five wrong keys in a row, then one more every three minutes.
	Rate Rate
	// KeyRate is the failed attempts allowed per API key from all addresses together;
	// zero means Rate.
	KeyRate Rate
	// MeterProvider receives the tollgate.auth.throttled counter; nil means the global one.
	MeterProvider metric.MeterProvider
	// Logger receives one warning per throttled address or key per window of its rate, so
	// a flood of guesses is not a flood of logs; nil means slog.Default().
	Logger *slog.Logger
}

// AuthThrottle slows down credential guessing. It counts failed authentications per client
// address and per API key, and tells the [auth.Authenticator] to answer 429 instead of 401
// once either has failed too often. It counts and refuses failures only: a credential that
// verifies is never throttled, so a guesser behind the same address as a paying consumer
// cannot lock that consumer out, and a valid request does not reset the count either.
//
// It satisfies auth.Throttle.
type AuthThrottle struct {
	l       *Limiter
	rate    Rate
	keyRate Rate
	log     *slog.Logger
	hits    metric.Int64Counter

	mu     sync.Mutex
	logged map[string]time.Time // throttled key -> when it may be logged again
}

// maxLogged bounds the memory kept to rate-limit log lines; past it, throttling goes on
// and is counted, but new addresses are not logged until old entries expire.
const maxLogged = 4096

// NewAuthThrottle returns a throttle, or an error when the Limiter is missing or a rate is
// invalid or zero: a throttle that cannot count would let every attempt through, which
// must be found at start-up.
func NewAuthThrottle(cfg AuthThrottleConfig) (*AuthThrottle, error) {
	if cfg.Limiter == nil {
		return nil, errors.New("ratelimit: NewAuthThrottle needs a Limiter")
	}
	if cfg.KeyRate.IsZero() {
		cfg.KeyRate = cfg.Rate
	}
	for name, r := range map[string]Rate{"Rate": cfg.Rate, "KeyRate": cfg.KeyRate} {
		if r.IsZero() {
			return nil, fmt.Errorf("ratelimit: NewAuthThrottle needs a %s; the zero Rate would allow every attempt", name)
		}
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("ratelimit: NewAuthThrottle %s: %w", name, err)
		}
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	hits, err := mp.Meter("github.com/tollgate-dev/tollgate/ratelimit").Int64Counter("tollgate.auth.throttled",
		metric.WithDescription("Failed authentications answered 429 by the failed-auth throttle, by what was throttled."),
		metric.WithUnit("{request}"))
	if err != nil {
		return nil, fmt.Errorf("ratelimit: NewAuthThrottle: %w", err)
	}
	t := &AuthThrottle{l: cfg.Limiter, rate: cfg.Rate, keyRate: cfg.KeyRate, log: cfg.Logger, hits: hits, logged: map[string]time.Time{}}
	if t.log == nil {
		t.log = slog.Default()
	}
	return t, nil
}

var _ auth.Throttle = (*AuthThrottle)(nil)

// Throttle keys, apart from any key's own limits.
const (
	throttleAddress = "auth-failures\x00addr\x00"
	throttleKey     = "auth-failures\x00key\x00"
)

// Throttle reasons, the tollgate.throttle.reason attribute of tollgate.auth.throttled.
var (
	reasonAddress = metric.WithAttributeSet(attribute.NewSet(attribute.String("tollgate.throttle.reason", "address")))
	reasonKey     = metric.WithAttributeSet(attribute.NewSet(attribute.String("tollgate.throttle.reason", "key")))
)

// Failed records a failed attempt by client and, when keyID is not empty, against that
// key, and reports whether either is over its budget. A refused attempt spends nothing,
// so a throttled address comes back as its budget refills however fast it keeps trying.
// When the store cannot decide, the failure is answered 401 rather than 429: refusing to
// count must not turn into refusing everyone.
func (t *AuthThrottle) Failed(ctx context.Context, client, keyID string) (time.Duration, bool) {
	ctx = context.WithoutCancel(ctx)
	var wait time.Duration
	throttled := false
	if res, err := t.l.Take(ctx, throttleAddress+client, t.rate, 1); err == nil && !res.Allowed {
		throttled, wait = true, res.RetryAfter
		t.hits.Add(ctx, 1, reasonAddress)
		t.note(throttleAddress+client, t.rate, "address", client)
	}
	if keyID != "" {
		if res, err := t.l.Take(ctx, throttleKey+keyID, t.keyRate, 1); err == nil && !res.Allowed {
			throttled, wait = true, max(wait, res.RetryAfter)
			t.hits.Add(ctx, 1, reasonKey)
			t.note(throttleKey+keyID, t.keyRate, "key", keyID)
		}
	}
	return wait, throttled
}

// note logs a throttled address or key at most once per window of its rate.
func (t *AuthThrottle) note(key string, r Rate, reason, who string) {
	now := t.l.now()
	t.mu.Lock()
	if until, ok := t.logged[key]; ok && now.Before(until) {
		t.mu.Unlock()
		return
	}
	if len(t.logged) >= maxLogged {
		for k, until := range t.logged {
			if !now.Before(until) {
				delete(t.logged, k)
			}
		}
		if len(t.logged) >= maxLogged {
			t.mu.Unlock()
			return
		}
	}
	window := r.Window
	if window <= 0 { // a calendar quota: once an hour is quiet enough
		window = time.Hour
	}
	t.logged[key] = now.Add(window)
	t.mu.Unlock()
	t.log.Warn("failed authentication throttled", slog.String("reason", reason), slog.String(reason, who), slog.Duration("log_again_after", window))
}
