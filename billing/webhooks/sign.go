package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a webhook's timestamp may be from the receiver's clock, both
// ways, as the Standard Webhooks and Stripe libraries default to: it bounds replays of a
// captured request.
const DefaultTolerance = 5 * time.Minute

// Secret is a signing secret: the key shared with one endpoint. Its text form is
// "whsec_" followed by the key in base64, as Standard Webhooks libraries expect. It redacts
// itself in fmt, slog and JSON.
type Secret struct{ key []byte }

// NewSecret returns a random 32-byte secret.
func NewSecret() (Secret, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return Secret{}, err
	}
	return Secret{key: k}, nil
}

// ParseSecret reads "whsec_<base64>" (the prefix is optional), refusing keys shorter than
// 16 bytes, which would make signatures guessable.
func ParseSecret(s string) (Secret, error) {
	b64 := strings.TrimPrefix(s, "whsec_")
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Secret{}, errors.New("webhooks: secret is not whsec_ followed by base64")
	}
	if len(k) < 16 {
		return Secret{}, fmt.Errorf("webhooks: secret of %d bytes; want at least 16", len(k))
	}
	return Secret{key: k}, nil
}

// Reveal returns the secret's text form, to hand to the endpoint's owner once.
func (s Secret) Reveal() string { return "whsec_" + base64.StdEncoding.EncodeToString(s.key) }

// String redacts the secret.
func (Secret) String() string { return "whsec_[redacted]" }

// LogValue redacts the secret in slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("whsec_[redacted]") }

// MarshalText redacts the secret in JSON and other text encodings.
func (Secret) MarshalText() ([]byte, error) { return []byte("whsec_[redacted]"), nil }

// IsZero reports whether the secret is unset.
func (s Secret) IsZero() bool { return len(s.key) == 0 }

// Sign returns the webhook-signature value for a message: "v1," and the base64
// HMAC-SHA256 of "id.timestamp.body".
func (s Secret) Sign(id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(s.mac(id, ts.Unix(), body))
}

func (s Secret) mac(id string, unix int64, body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, unix, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// SetHeaders signs a message onto h: webhook-id, webhook-timestamp and webhook-signature.
func (s Secret) SetHeaders(h http.Header, id string, ts time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, s.Sign(id, ts, body))
}

// Verification errors. Receivers answer all of them alike (400 or 401).
var (
	ErrNoSignature  = errors.New("webhooks: missing signature headers")
	ErrBadSignature = errors.New("webhooks: no signature matches")
	ErrTimestamp    = errors.New("webhooks: timestamp outside the tolerance")
	ErrMalformed    = errors.New("webhooks: malformed signature header")
)

// maxSignatures bounds the entries parsed from one header, so a hostile header cannot make
// a receiver compute thousands of comparisons.
const maxSignatures = 16

// Verify checks a Standard Webhooks request: the timestamp within tolerance of now (zero
// tolerance means DefaultTolerance) and at least one v1 signature matching one of secrets
// (several during a rotation), compared in constant time. It returns the webhook id.
func Verify(h http.Header, body []byte, now time.Time, tolerance time.Duration, secrets ...Secret) (string, error) {
	id, ts, sig := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sig == "" {
		return "", ErrNoSignature
	}
	unix, err := parseUnix(ts)
	if err != nil {
		return "", err
	}
	if err := checkTime(unix, now, tolerance); err != nil {
		return "", err
	}
	var candidates [][]byte
	for i, entry := range strings.Fields(sig) {
		if i == maxSignatures {
			return "", ErrMalformed
		}
		version, value, ok := strings.Cut(entry, ",")
		if !ok {
			return "", ErrMalformed
		}
		if version != "v1" {
			continue // other schemes (v1a: asymmetric) are not ours to check
		}
		b, err := base64.StdEncoding.DecodeString(value)
		if err != nil || len(b) != sha256.Size {
			return "", ErrMalformed
		}
		candidates = append(candidates, b)
	}
	for _, s := range secrets {
		if s.IsZero() {
			continue
		}
		want := s.mac(id, unix, body)
		for _, c := range candidates {
			if hmac.Equal(want, c) {
				return id, nil
			}
		}
	}
	return "", ErrBadSignature
}

func parseUnix(s string) (int64, error) {
	if len(s) == 0 || len(s) > 12 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, ErrMalformed
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, ErrMalformed
	}
	return v, nil
}

func checkTime(unix int64, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	d := now.Unix() - unix
	if d < 0 {
		d = -d
	}
	if d > int64(tolerance/time.Second) {
		return ErrTimestamp
	}
	return nil
}
