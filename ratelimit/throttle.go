package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/auth"
)

// AuthThrottle slows down credential guessing: it counts failed authentications per client
// and refuses further attempts from a client that failed too often. Allow consumes nothing,
// so successful callers are never charged; only Failed spends from the budget.
//
// It satisfies auth.Throttle.
type AuthThrottle struct {
	l    *Limiter
	rate Rate
}

// NewAuthThrottle returns a throttle allowing rate failed attempts per client, for example
// PerHour(20).WithBurst(5): five wrong keys in a row, then one more every three minutes.
// It returns an error when l is nil or rate is invalid or zero: a throttle that cannot
// count would let every attempt through, which must be found at start-up.
func NewAuthThrottle(l *Limiter, rate Rate) (*AuthThrottle, error) {
	if l == nil {
		return nil, errors.New("ratelimit: NewAuthThrottle needs a Limiter")
	}
	if rate.IsZero() {
		return nil, errors.New("ratelimit: NewAuthThrottle needs a rate; the zero Rate would allow every attempt")
	}
	if err := rate.Validate(); err != nil {
		return nil, fmt.Errorf("ratelimit: NewAuthThrottle: %w", err)
	}
	return &AuthThrottle{l: l, rate: rate}, nil
}

var _ auth.Throttle = (*AuthThrottle)(nil)

const throttlePrefix = "auth-failures\x00"

// Allow reports whether client may attempt to authenticate, and if not, how long it must
// wait. When the store cannot decide, the attempt is allowed: the credential is still
// checked, and refusing every login during a store outage would lock everyone out.
func (t *AuthThrottle) Allow(ctx context.Context, client string) (retryAfter time.Duration, ok bool) {
	res, err := t.l.Take(ctx, throttlePrefix+client, t.rate, 0)
	if err != nil || res.Allowed {
		return 0, true
	}
	return res.RetryAfter, false
}

// Failed records a failed attempt by client.
func (t *AuthThrottle) Failed(ctx context.Context, client string) {
	// Recording must not be skipped because the request was cancelled right after the
	// failure: that would let a client that hangs up early guess for free.
	_, _ = t.l.Take(context.WithoutCancel(ctx), throttlePrefix+client, t.rate, 1)
}
