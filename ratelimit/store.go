package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store keeps the state of every limit and makes the decisions. The in-process [MemoryStore]
// is the default; ratelimit/redisstore shares limits between replicas.
//
// Take spends n units of rate for key when they are available and reports where the key
// stands. A denial is a Result with Allowed false, not an error: an error means the store
// could not decide (unreachable, timed out, ctx cancelled), and the caller chooses what to do
// about it. n == 0 is a peek: it reports the state and consumes nothing, with Allowed saying
// whether one more unit would be admitted. Rate is never the zero Rate and has passed
// [Rate.Validate]; Location is set for calendar quotas.
//
// Implementations must be safe for concurrent use and must never admit more than the rate
// allows, however many goroutines or processes call Take at once. The conformance kit in
// ratelimit/ratelimittest checks this.
type Store interface {
	Take(ctx context.Context, key string, rate Rate, n int) (Result, error)
}

// Result is the state of one key after a decision.
type Result struct {
	// Allowed reports whether the units were admitted (for a peek: whether one more would be).
	Allowed bool
	// Rate is the rate the decision was made against.
	Rate Rate
	// Remaining is how many units could be spent right now after this decision.
	Remaining int64
	// ResetAfter is how long until the full capacity is available again: the end of the
	// period for a quota, the time to refill completely for a smoothing rate.
	ResetAfter time.Duration
	// RetryAfter is how long to wait before the same request could be admitted; zero when
	// it was admitted.
	RetryAfter time.Duration
}

var (
	// ErrLimited matches every error that reports a denied request: a smoothing rate or a
	// quota was exhausted.
	ErrLimited = errors.New("ratelimit: limited")
	// ErrQuotaExceeded matches errors that report an exhausted calendar quota. Such errors
	// also match [ErrLimited].
	ErrQuotaExceeded = fmt.Errorf("%w: quota exceeded", ErrLimited)
	// ErrUnavailable reports that the store could not decide and the limiter is configured
	// to refuse requests rather than admit them unchecked. The middleware answers 503.
	ErrUnavailable = errors.New("ratelimit: store unavailable")
	// ErrCostExceedsCapacity matches a [*CostError]: the request costs more than a policy
	// admits at once, so it can never be admitted. The middleware answers 400.
	ErrCostExceedsCapacity = errors.New("ratelimit: cost exceeds the capacity of a policy")
)

// UnavailableError is returned by stores that fail closed. It matches [ErrUnavailable] and
// carries a hint for the Retry-After header.
type UnavailableError struct {
	// RetryAfter is how long clients should wait; zero lets the middleware choose.
	RetryAfter time.Duration
	// Err is the underlying failure.
	Err error
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return ErrUnavailable.Error()
	}
	return ErrUnavailable.Error() + ": " + e.Err.Error()
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the underlying failure.
func (e *UnavailableError) Unwrap() error { return e.Err }
