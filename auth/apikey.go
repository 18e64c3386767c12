package auth

import (
	"crypto/rand"
	"errors"
	"hash/crc32"
	"strconv"
	"strings"
	"unsafe"
)

// API key layout:
//
//	<prefix>_<environment>_<id>_<secret><checksum>
//	tg_live_3kTMd9fQx2Lp_Vb0Q7zT9eR4mN2kP8sW1yU6hJ3dF5gA0cXl2Ouq1
//
// prefix and environment are lower-case letters that say whose key it is and where it works
// (a test key is refused by a live server); id is 12 base62 characters (71 bits) that name
// the key publicly, so lookups need no secret; secret is 30 base62 characters (178 bits from
// crypto/rand); checksum is the CRC-32 (IEEE) of everything before it, as 6 base62 digits,
// so a mistyped or truncated key is refused without touching the store and secret scanners
// can tell a real key from a lookalike.
const (
	keyIDLen       = 12
	keySecretLen   = 30
	keyChecksumLen = 6
	maxPrefixLen   = 16
	maxKeyLen      = 2*maxPrefixLen + 2 + keyIDLen + 1 + keySecretLen + keyChecksumLen + 1
)

// KeyPattern is the regular expression that matches API keys with the default prefix in
// either environment. Register it with secret scanners (GitHub secret scanning, gitleaks,
// trufflehog); [Keys.Pattern] gives the pattern for a custom prefix.
const KeyPattern = `\btg_(?:live|test)_[0-9A-Za-z]{12}_[0-9A-Za-z]{36}\b`

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var errMalformedKey = errors.New("malformed API key")

// ParsedKey is an API key that passed the format and checksum checks. Its secret part is
// unexported so a ParsedKey can be logged.
type ParsedKey struct {
	// Prefix and Env are the readable prefix and environment ("tg", "live").
	Prefix, Env string
	// ID is the public key id.
	ID string

	secret string
	raw    string
}

// Hint is the prefix, id and last four characters of the key, the most of it that may be
// shown in logs and dashboards.
func (k ParsedKey) Hint() string { return KeyHint(k.raw) }

// String returns the hint, so a ParsedKey never prints its secret.
func (k ParsedKey) String() string { return k.Hint() }

// KeyHint shortens a presented API key to what may appear in logs: everything up to the
// secret, and its last four characters. Anything not shaped like a key (which might be a
// password pasted into the wrong header) yields only its length.
func KeyHint(raw string) string {
	if _, err := parseShape(raw); err != nil {
		return "[" + strconv.Itoa(len(raw)) + " chars]"
	}
	return raw[:len(raw)-keySecretLen-keyChecksumLen] + "…" + raw[len(raw)-4:]
}

// ParseKey checks the layout and checksum of an API key. It does not allocate and does not
// consult any store; a nil error says only that the key is well formed.
func ParseKey(raw string) (ParsedKey, error) {
	pk, err := parseShape(raw)
	if err == nil && !checksumOK(raw) {
		err = errMalformedKey
	}
	return pk, err
}

// parseShape checks the layout without the checksum.
func parseShape(raw string) (ParsedKey, error) {
	if len(raw) > maxKeyLen || len(raw) < 4+keyIDLen+keySecretLen+keyChecksumLen {
		return ParsedKey{}, errMalformedKey
	}
	prefix, rest, ok := strings.Cut(raw, "_")
	if !ok || !lowerWord(prefix) {
		return ParsedKey{}, errMalformedKey
	}
	env, rest, ok := strings.Cut(rest, "_")
	if !ok || !lowerWord(env) {
		return ParsedKey{}, errMalformedKey
	}
	id, tail, ok := strings.Cut(rest, "_")
	if !ok || len(id) != keyIDLen || len(tail) != keySecretLen+keyChecksumLen || !isBase62(id) || !isBase62(tail) {
		return ParsedKey{}, errMalformedKey
	}
	return ParsedKey{Prefix: prefix, Env: env, ID: id, secret: tail[:keySecretLen], raw: raw}, nil
}

// checksumOK verifies the trailing checksum of a key whose shape was checked.
func checksumOK(raw string) bool {
	return checksumMatches(crcString(raw[:len(raw)-keyChecksumLen]), raw[len(raw)-keyChecksumLen:])
}

// tail is the secret and checksum: the part of the key that is not public.
func (k ParsedKey) tail() string { return k.raw[len(k.raw)-keySecretLen-keyChecksumLen:] }

// formatKey builds a key around a fresh id and secret from crypto/rand.
func formatKey(prefix, env string) (id string, key string) {
	buf := make([]byte, 0, maxKeyLen)
	buf = append(buf, prefix...)
	buf = append(buf, '_')
	buf = append(buf, env...)
	buf = append(buf, '_')
	start := len(buf)
	buf = appendRandom62(buf, keyIDLen)
	id = string(buf[start:])
	buf = append(buf, '_')
	buf = appendRandom62(buf, keySecretLen)
	buf = appendChecksum(buf, crc32.ChecksumIEEE(buf))
	return id, string(buf)
}

// appendRandom62 draws n uniform base62 characters by rejection sampling, so no character is
// likelier than another.
func appendRandom62(dst []byte, n int) []byte {
	var b [64]byte
	for n > 0 {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
		for _, c := range b {
			if c >= 248 { // 248 = 4*62: keep the distribution uniform
				continue
			}
			dst = append(dst, base62[c%62])
			if n--; n == 0 {
				break
			}
		}
	}
	return dst
}

func appendChecksum(dst []byte, sum uint32) []byte {
	var digits [keyChecksumLen]byte
	for i := keyChecksumLen - 1; i >= 0; i-- {
		digits[i] = base62[sum%62]
		sum /= 62
	}
	return append(dst, digits[:]...)
}

func checksumMatches(sum uint32, s string) bool {
	for i := keyChecksumLen - 1; i >= 0; i-- {
		if s[i] != base62[sum%62] {
			return false
		}
		sum /= 62
	}
	return sum == 0
}

func lowerWord(s string) bool {
	if len(s) == 0 || len(s) > maxPrefixLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// crcString is crc32.ChecksumIEEE over a string. Converting the string to a []byte would
// allocate on every request; viewing its bytes is safe because crc32 only reads them.
func crcString(s string) uint32 {
	return crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(s), len(s)))
}
