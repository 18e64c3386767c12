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
	minEventUnix = time.Date(0, time.January, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxEventUnix = time.Date(10000, time.January, 1, 0, 0, 0, 0, time.UTC).Unix()
	errBadString = fmt.Errorf("%w: attribute is not valid UTF-8 or contains NUL", ErrInvalidEvent)
)

func (e *Event) validate() error {
	if err := e.validateAttrs(); err != nil {
		return err
	}
	return validUnits(e.Units)
}

// validateAttrs checks everything but the meter names, which the middleware checks where
// they are declared (Units, Accumulator.Add) rather than on every event.
func (e *Event) validateAttrs() error {
	attrs := [...]string{e.Source, e.Type, e.Consumer, e.Operation, e.KeyID, e.Plan, e.IdempotencyKey}
	// One branch-free pass over all of them, eight bytes at a time; only a string that is
	// long or not plain ASCII without NUL takes the exact check.
	var dirty uint64
	for _, s := range attrs {
		if len(s) > maxStringSize {
			dirty = highs
			break
		}
		dirty |= asciiFlags(s)
	}
	if dirty&highs != 0 {
		for _, s := range attrs {
			if err := checkString(s); err != nil {
				return err
			}
		}
	}
	if len(e.Units) > maxMeters {
		return fmt.Errorf("%w: more than %d meters", ErrInvalidEvent, maxMeters)
	}
	if e.Status < 0 || e.Status > 999 || e.Latency < 0 || e.RequestBytes < 0 || e.ResponseBytes < 0 {
		return fmt.Errorf("%w: negative or out-of-range number", ErrInvalidEvent)
	}
	// Seconds since year 1 instead of a calendar split or two Time comparisons: this runs
	// on every Record.
	if s := e.Time.Unix(); s < minEventUnix || s >= maxEventUnix {
		return fmt.Errorf("%w: time year %d outside [0,9999]", ErrInvalidEvent, e.Time.UTC().Year())
	}
	return nil
}

// validUnits checks meter names: the map range alone costs more than the rest of Record.
func validUnits(units map[string]int64) error {
	for k := range units {
		if err := checkMeter(k); err != nil {
			return err
		}
	}
	return nil
}

// checkMeter checks one meter name.
func checkMeter(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty meter name", ErrInvalidEvent)
	}
	return checkString(name)
}

// checkString bounds one attribute. Invalid UTF-8 and NUL are refused rather than
// replaced: JSON would turn each bad byte into a three-byte U+FFFD (so the decoded string
// could outgrow the limit), and Postgres refuses both in text columns, which would leave
// the row retried forever.
func checkString(s string) error {
	if len(s) > maxStringSize {
		return fmt.Errorf("%w: attribute longer than %d bytes", ErrInvalidEvent, maxStringSize)
	}
	if asciiFlags(s)&highs == 0 {
		return nil
	}
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return errBadString
	}
	return nil
}

// asciiFlags returns a word with a bit of highs set if s holds a NUL or a byte that is not
// ASCII (and perhaps when it does not: a caller checks exactly then). A byte c is flagged
// by c|(c-1), whose high bit is set when c is 0 or at least 0x80.
func asciiFlags(s string) uint64 {
	var acc uint64
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		acc |= w | (w - lows)
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		acc |= uint64(c | (c - 1))
	}
	return acc
}

const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

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
