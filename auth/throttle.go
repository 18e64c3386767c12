package auth

import (
	"context"
	"time"
)

// Throttle slows credential guessing. The [Authenticator] consults it only for credentials
// that fail to verify: a credential that verifies is served whatever its address has
// failed before, so a guesser sharing an address with a paying consumer (a corporate proxy,
// carrier-grade NAT, a CI runner, a node's egress) cannot lock that consumer out. A
// throttled address or key is answered 429 with Retry-After instead of 401, the same for
// an unknown key as for a wrong secret, so the answer reveals nothing about which keys exist.
type Throttle interface {
	// Failed records one failed attempt from client (its address) and, when keyID is not
	// empty, one against that API key: keyID names a key that exists but was presented
	// with a wrong secret, or expired or revoked, so guesses spread over many addresses
	// are still counted against the key they target. It reports whether the client or the
	// key has failed too often, and then how long to wait. It must count the failure even
	// when ctx is cancelled: a client that hangs up at once must not guess for free.
	Failed(ctx context.Context, client, keyID string) (retryAfter time.Duration, throttled bool)
}
