package auth_test

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

// BenchmarkThrottledGuess is the cost of refusing a guess from a throttled address, with the
// in-process failed-auth throttle: a malformed or mistyped key is refused before any store
// lookup; a well-formed key with an unknown id costs one lookup in the (here in-memory) store,
// the price of serving valid keys from a throttled address. The valid row is a consumer's
// key from that same address, served from the verified-key cache.
func BenchmarkThrottledGuess(b *testing.B) {
	keys, valid := benchKeys(b, -1)
	warm, warmKey := benchKeys(b, 0)
	limits, err := ratelimit.New(ratelimit.Config{})
	if err != nil {
		b.Fatal(err)
	}
	th, err := ratelimit.NewAuthThrottle(ratelimit.AuthThrottleConfig{Limiter: limits, Rate: ratelimit.PerHour(1), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		keys   *auth.Keys
		key    string
		status int
	}{
		{"malformed", keys, "tg_live_nope", 429},
		{"typo", keys, typo(valid), 429},
		{"unknown-id", keys, forgeID(b, valid), 429},
		{"valid-same-address", warm, warmKey, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			authn, err := auth.New(auth.Config{Keys: bc.keys, Throttle: th})
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-API-Key", typo(valid))
			_, _ = authn.Authenticate(r) // throttle 192.0.2.1, the httptest peer
			_, _ = authn.Authenticate(r)
			r.Header.Set("X-API-Key", bc.key)
			b.ReportAllocs()
			for b.Loop() {
				_, err := authn.Authenticate(r)
				if got := status(err); got != bc.status {
					b.Fatalf("status %d, want %d (%v)", got, bc.status, err)
				}
			}
		})
	}
}

func status(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(*auth.Error); ok {
		return e.Status
	}
	return -1
}
