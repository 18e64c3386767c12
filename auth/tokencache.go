package auth

import (
	"crypto/subtle"
	"hash/maphash"
	"sync"
	"time"
	"unsafe"
)

// tokenCache remembers verified tokens until they expire, so a client that sends the same
// token on every call pays for the signature check once.
//
// Entries are found by a keyed 64-bit digest of the token (maphash, seeded per process, so
// nobody outside can aim collisions) and confirmed by a constant-time comparison with the
// token itself; a collision therefore costs a cache miss, never a wrong principal. Hashing
// with SHA-256 instead would cost more than the whole lookup budget for a 1 KB token. The
// cache holds tokens that are in request memory anyway and that expire; it is bounded and
// drops an arbitrary entry when full.
type tokenCache struct {
	seed maphash.Seed
	size int

	mu      sync.RWMutex
	entries map[uint64]*tokenEntry
}

type tokenEntry struct {
	token     string
	principal *Principal
	src       *jwksSource
	set       *keySet
	kid       string
	key       *verifyKey // the key that verified the token
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{seed: maphash.MakeSeed(), size: size, entries: make(map[uint64]*tokenEntry)}
}

func (c *tokenCache) get(token string, now time.Time) *Principal {
	h := maphash.String(c.seed, token)
	c.mu.RLock()
	e := c.entries[h]
	c.mu.RUnlock()
	if e == nil || !constantTimeEqual(e.token, token) {
		return nil
	}
	if !now.Before(e.principal.Expires) || !e.signerStillPublished() {
		c.mu.Lock()
		if c.entries[h] == e {
			delete(c.entries, h)
		}
		c.mu.Unlock()
		return nil
	}
	return e.principal
}

// signerStillPublished reports whether the key that signed the token is still in its
// issuer's key set: removing a key from the JWKS revokes the tokens it signed. The key is
// compared by its material, not its kid: a token without kid must not survive the rotation
// of a single-key set, nor a token survive its kid being reused for a new key.
func (e *tokenEntry) signerStillPublished() bool {
	cur := e.src.set.Load()
	return cur == e.set || cur != nil && e.key.same(cur.lookup(e.kid))
}

// put caches a verified token. Expiry is checked on exp alone: the leeway lets a token in
// after exp, but the cache keeps no token past it.
func (c *tokenCache) put(token string, p *Principal, src *jwksSource, set *keySet, kid string, key *verifyKey) {
	h := maphash.String(c.seed, token)
	e := &tokenEntry{token: token, principal: p, src: src, set: set, kid: kid, key: key}
	c.mu.Lock()
	if len(c.entries) >= c.size {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[h] = e
	c.mu.Unlock()
}

// constantTimeEqual compares two strings without an early exit on the first difference.
// Their bytes are viewed in place (subtle only reads them) because converting a token to a
// []byte would allocate on every request.
func constantTimeEqual(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(
		unsafe.Slice(unsafe.StringData(a), len(a)), unsafe.Slice(unsafe.StringData(b), len(b))) == 1
}
