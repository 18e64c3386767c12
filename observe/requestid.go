package observe

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

// requestIDKey is RequestIDHeader in canonical form, for direct map access.
const requestIDKey = "X-Request-Id"

// maxRequestIDLen bounds an incoming id; UUIDs (36), W3C trace ids (32) and ULIDs (26) fit.
const maxRequestIDLen = 128

// ValidRequestID reports whether id, received from a client or proxy, is safe to adopt as
// the request id: 1 to 128 characters from [A-Za-z0-9._:+/=-]. Anything else (spaces,
// quotes, control characters, non-ASCII) is replaced by a generated id rather than
// sanitised, so ids can neither forge log fields nor smuggle headers.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idChar[id[i]] {
			return false
		}
	}
	return true
}

var idChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-_.:+/=" {
		t[c] = true
	}
	return t
}()

// newRequestID returns 128 random bits in hex. Request ids correlate, they do not
// authenticate, so the runtime's fast per-thread generator is enough; collisions are as
// unlikely as for random trace ids.
func newRequestID() string {
	var b [16]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
	}
	var out [32]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// RequestID returns the id of the request ctx belongs to, or "" outside a request served
// by Handler or Huma.
func RequestID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}
