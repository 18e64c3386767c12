package metering

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"
)

// ID identifies one usage event. It is a UUID: version 7 (time-ordered, random) for
// ordinary events, version 8 (derived from the consumer, operation and Idempotency-Key) for
// requests that carry an idempotency key. Sinks deduplicate on it, so a redelivered event and
// a retried request with the same key are both counted once.
//
// ID is a value type rather than a string so recording an event allocates nothing.
type ID [16]byte

// IsZero reports whether id is the zero value, which Record replaces with a fresh id.
func (id ID) IsZero() bool { return id == ID{} }

// Derived reports whether id was derived from an idempotency key (UUID version 8).
func (id ID) Derived() bool { return id[6]>>4 == 8 }

// String returns the canonical hyphenated UUID form.
func (id ID) String() string {
	b, _ := id.MarshalText()
	return string(b)
}

// MarshalText encodes id in the canonical hyphenated UUID form.
func (id ID) MarshalText() ([]byte, error) {
	return id.appendText(make([]byte, 0, 36)), nil
}

func (id ID) appendText(dst []byte) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], id[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], id[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], id[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], id[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], id[10:])
	return append(dst, buf[:]...)
}

var errBadID = errors.New("metering: event id is not a UUID")

// UnmarshalText parses the canonical hyphenated UUID form.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseID parses the canonical hyphenated UUID form (36 characters, any hex case).
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, errBadID
	}
	for j, i := range idHexOffsets {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return ID{}, errBadID
		}
		id[j] = hi<<4 | lo
	}
	return id, nil
}

// idHexOffsets are where each byte's two hex digits start in the canonical form.
var idHexOffsets = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// NewID returns a UUIDv7 for time t: 48 bits of Unix milliseconds then 74 random bits from
// crypto/rand, so ids sort by time and never collide across processes or restarts.
func NewID(t time.Time) ID {
	var id ID
	_, _ = rand.Read(id[6:]) // crypto/rand.Read never returns an error (Go 1.24+)
	stampV7(&id, t)
	return id
}

// fillRandomIDs gives every event in events with a zero ID a UUIDv7 for its time. One read
// from crypto/rand seeds the batch: the 62-bit rand_b field starts at a random value and
// counts up per event (RFC 9562 section 6.2, method 2), so ids within a batch never collide
// and ids across batches and processes collide with negligible probability, for the price
// of one random read per batch instead of one per event.
func fillRandomIDs(events []Event) {
	var seed [10]byte
	seeded := false
	var k uint64
	for i := range events {
		id := &events[i].ID
		if !id.IsZero() {
			continue
		}
		if !seeded {
			_, _ = rand.Read(seed[:])
			seeded = true
		}
		id[6], id[7] = seed[0], seed[1]
		binary.BigEndian.PutUint64(id[8:], binary.BigEndian.Uint64(seed[2:])+k)
		k++
		stampV7(id, events[i].Time)
	}
}

func stampV7(id *ID, t time.Time) {
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(id[0:6], ms[2:])
	id[6] = id[6]&0x0f | 0x70
	id[8] = id[8]&0x3f | 0x80
}

// DeriveID returns the id of the event for a request that carries an idempotency key: a
// UUIDv8 made from a SHA-256 of the source, consumer, operation and key. A repeated request
// gets the same id, so the in-process window and every deduplicating sink count it once.
// The consumer is part of the hash so one caller cannot suppress another's usage by reusing
// their key.
func DeriveID(source, consumer, operation, idempotencyKey string) ID {
	h := sha256.New()
	for _, s := range [...]string{"tollgate.metering.v1", source, consumer, operation, idempotencyKey} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var sum [32]byte
	h.Sum(sum[:0])
	var id ID
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x80
	id[8] = id[8]&0x3f | 0x80
	return id
}
