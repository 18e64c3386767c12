package auth

import (
	"context"
	"time"
)

// Throttle slows clients that keep failing authentication, separately from any key's quota.
type Throttle interface {
	// Allow reports whether client may attempt authentication now, consuming nothing;
	// when it may not, retryAfter says when to come back.
	Allow(ctx context.Context, client string) (retryAfter time.Duration, ok bool)
	// Failed records one failed attempt by client.
	Failed(ctx context.Context, client string)
}
