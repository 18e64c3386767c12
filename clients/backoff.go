package clients

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// backoff is the full-jitter wait before retry number retry (1 for the first retry): a
// uniform draw below min(maxDelay, base·2^(retry-1)), u being a uniform draw in [0, 1).
// Full jitter spreads the retries of many callers that failed together, so they do not
// return in lockstep.
func backoff(base, maxDelay time.Duration, retry int, u float64) time.Duration {
	ceiling := maxDelay
	if retry < 1 {
		retry = 1
	}
	if retry <= 62 {
		if c := base << (retry - 1); c > 0 && c < maxDelay && c>>(retry-1) == base {
			ceiling = c
		}
	}
	return time.Duration(u * float64(ceiling))
}

// waitFor returns how long to wait before the next attempt: the server's Retry-After when
// it sent a usable one, else the jittered backoff; never more than maxDelay.
func waitFor(resp *http.Response, base, maxDelay time.Duration, retry int, now time.Time) time.Duration {
	if resp != nil {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			return min(d, maxDelay)
		}
	}
	return backoff(base, maxDelay, retry, rand.Float64())
}

// maxRetryAfter bounds a parsed Retry-After so that arithmetic on it cannot overflow.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter parses a Retry-After value (RFC 9110 §10.2.3): a number of seconds or an
// HTTP date. Negative, malformed and absurd values are ignored (ok is false); a date in the
// past means no wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		if len(v) > 10 {
			return 0, false
		}
		secs, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, false
		}
		d := time.Duration(secs) * time.Second
		return min(d, maxRetryAfter), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		return 0, true
	}
	return min(d, maxRetryAfter), true
}
