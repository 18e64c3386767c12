package metering

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// validate checks the limits DecodeEvent enforces, so that every event Record accepts can
// be spooled and read back, and every sink (Postgres among them) can store its strings.
// Source and Type may still be empty here: Record fills them in later.
var (
	minEventTime = time.Date(0, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxEventTime = time.Date(10000, time.January, 1, 0, 0, 0, 0, time.UTC)
	errBadString = fmt.Errorf("%w: attribute is not valid UTF-8 or contains NUL", ErrInvalidEvent)
)

func (e *Event) validate() error {
	for _, s := range [...]string{e.Source, e.Type, e.Consumer, e.Operation, e.KeyID, e.Plan, e.IdempotencyKey} {
		if err := checkString(s); err != nil {
			return err
		}
	}
	if len(e.Units) > maxMeters {
		return fmt.Errorf("%w: more than %d meters", ErrInvalidEvent, maxMeters)
	}
	for k := range e.Units {
		if k == "" {
			return fmt.Errorf("%w: empty meter name", ErrInvalidEvent)
		}
		if err := checkString(k); err != nil {
			return err
		}
	}
	if e.Status < 0 || e.Status > 999 || e.Latency < 0 || e.RequestBytes < 0 || e.ResponseBytes < 0 {
		return fmt.Errorf("%w: negative or out-of-range number", ErrInvalidEvent)
	}
	// Two comparisons instead of a calendar split: this runs on every Record.
	if e.Time.Before(minEventTime) || !e.Time.Before(maxEventTime) {
		return fmt.Errorf("%w: time year %d outside [0,9999]", ErrInvalidEvent, e.Time.UTC().Year())
	}
	return nil
}

// checkString bounds one attribute. Invalid UTF-8 and NUL are refused rather than
// replaced: JSON would turn each bad byte into a three-byte U+FFFD (so the decoded string
// could outgrow the limit), and Postgres refuses both in text columns, which would leave
// the row retried forever.
func checkString(s string) error {
	if len(s) > maxStringSize {
		return fmt.Errorf("%w: attribute longer than %d bytes", ErrInvalidEvent, maxStringSize)
	}
	// One pass over the ASCII prefix (almost always the whole string) instead of a UTF-8
	// scan and a NUL search, which cost more than the rest of Record together.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 {
			return errBadString
		}
		if c >= utf8.RuneSelf {
			if rest := s[i:]; !utf8.ValidString(rest) || strings.IndexByte(rest, 0) >= 0 {
				return errBadString
			}
			break
		}
	}
	return nil
}

// boundAttr makes a client-supplied attribute (an Idempotency-Key header, a request
// method) one Record accepts, so a client cannot make its own request go unmetered. A
// value that fits is kept; any other is replaced by a digest of it, which still tells
// repeats of the same value apart from others.
func boundAttr(s string) string {
	if checkString(s) == nil {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}
