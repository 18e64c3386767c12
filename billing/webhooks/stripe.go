package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// StripeHeader is the header Stripe signs its webhook events in.
const StripeHeader = "Stripe-Signature"

// VerifyStripe checks a Stripe-Signature header ("t=<unix>,v1=<hex>[,v1=<hex>...]") against
// the endpoint's signing secrets ("whsec_..." as Stripe shows them; several while one is
// rolled): the timestamp within tolerance of now (zero tolerance means 300 seconds, as
// Stripe's libraries), and one v1 entry equal, in constant time, to the hex HMAC-SHA256 of
// "t.body". v0 and unknown entries are ignored, as Stripe's libraries do.
func VerifyStripe(header string, body []byte, now time.Time, tolerance time.Duration, secrets ...string) error {
	if header == "" {
		return ErrNoSignature
	}
	var (
		ts         string
		candidates [][]byte
	)
	for i, part := range strings.Split(header, ",") {
		if i == 2*maxSignatures {
			return ErrMalformed
		}
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformed
		}
		switch k {
		case "t":
			if ts != "" {
				return ErrMalformed
			}
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return ErrMalformed
			}
			candidates = append(candidates, b)
		}
	}
	if ts == "" || len(candidates) == 0 {
		return ErrNoSignature
	}
	unix, err := parseUnix(ts)
	if err != nil {
		return err
	}
	if err := checkTime(unix, now, tolerance); err != nil {
		return err
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		m := hmac.New(sha256.New, []byte(s))
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		m.Write(body)
		want := m.Sum(nil)
		for _, c := range candidates {
			if hmac.Equal(want, c) {
				return nil
			}
		}
	}
	return ErrBadSignature
}

// SignStripe returns a Stripe-Signature header for body, as Stripe computes it; for tests
// of receivers and for stripe-mock, which does not sign.
func SignStripe(secret string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	t := strconv.FormatInt(ts.Unix(), 10)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(m.Sum(nil))
}
