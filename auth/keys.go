package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"
)

// KeyConfig configures [Keys]. The zero value is not usable: Secret is required.
type KeyConfig struct {
	// Store holds the keys; nil means a new [MemoryKeyStore]. Issuing, rotating and revoking
	// keys need a store that also implements [KeyWriter].
	Store KeyStore
	// Secret is the server secret that keys the HMAC-SHA256 digests of API keys, at least 32
	// bytes from a secrets manager. Without it a stolen copy of the store would not be
	// enough to check guesses offline; with it, a key store alone reveals nothing. Changing
	// it invalidates every key.
	Secret Secret
	// Prefix is the readable prefix of issued and accepted keys: lower-case letters, "tg"
	// when empty. Choose one that names your product so scanners can attribute leaks.
	Prefix string
	// Environment is the environment part ("live", "test"); empty means "live". A key of
	// another environment is refused, so test keys never work in production.
	Environment string
	// CacheTTL is how long a verified key is trusted without asking the store again. It is
	// the revocation bound: a key revoked, rotated out, disabled or changed through another
	// process (or directly in the store) stops working within CacheTTL; changes made through
	// this Keys apply at once. Zero means 30 seconds; negative disables the cache.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached keys; zero means 10 000.
	CacheSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// KeySpec describes a key to issue.
type KeySpec struct {
	Consumer string
	Tenant   string
	Plan     string
	Scopes   []string
	Metadata map[string]string
	// Expires is when the key stops working; zero means never.
	Expires time.Time
}

// IssuedKey is a key just created. Key is the only time the secret exists in clear: hand it
// to its owner and forget it.
type IssuedKey struct {
	ID     string
	Key    Secret
	Stored StoredKey
}

// Keys verifies API keys against a [KeyStore] and, when the store is a [KeyWriter], issues,
// rotates and revokes them.
type Keys struct {
	store  KeyStore
	writer KeyWriter
	mac    []byte
	prefix string
	env    string
	ttl    time.Duration
	size   int
	now    func() time.Time

	mu    sync.RWMutex
	cache map[string]*keyEntry
	// gen counts Forget calls. Verify caches a row only if gen did not move while it read
	// the store, so a row read before a revocation is never written back after it.
	gen uint64
}

// keyEntry is a verified key. It holds SHA-256 of the key's secret rather than the key: a
// repeat presentation is checked with one hash and a constant-time compare instead of an
// HMAC, and a memory dump reveals no usable key (the secret has 178 bits, so the hash
// cannot be inverted).
type keyEntry struct {
	hash      [sha256.Size]byte
	principal *Principal
	until     time.Time // first instant the key stops working; zero means never
	fetched   time.Time
}

// NewKeys returns a key verifier and issuer.
func NewKeys(cfg KeyConfig) (*Keys, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("auth: KeyConfig.Secret must be at least 32 bytes")
	}
	k := &Keys{
		store: cfg.Store, mac: []byte(cfg.Secret), prefix: cfg.Prefix, env: cfg.Environment,
		ttl: cfg.CacheTTL, size: cfg.CacheSize, now: cfg.Now, cache: make(map[string]*keyEntry),
	}
	if k.store == nil {
		k.store = NewMemoryKeyStore()
	}
	k.writer, _ = k.store.(KeyWriter)
	if k.prefix == "" {
		k.prefix = "tg"
	}
	if k.env == "" {
		k.env = "live"
	}
	if !lowerWord(k.prefix) || !lowerWord(k.env) {
		return nil, fmt.Errorf("auth: key prefix %q and environment %q must be 1-%d lower-case letters", k.prefix, k.env, maxPrefixLen)
	}
	if k.ttl == 0 {
		k.ttl = 30 * time.Second
	}
	if k.size <= 0 {
		k.size = 10_000
	}
	if k.now == nil {
		k.now = time.Now
	}
	return k, nil
}

// Store returns the key store.
func (k *Keys) Store() KeyStore { return k.store }

// Pattern returns the regular expression that matches this Keys' keys, for secret scanners.
func (k *Keys) Pattern() string {
	return `\b` + regexp.QuoteMeta(k.prefix+"_"+k.env+"_") + `[0-9A-Za-z]{12}_[0-9A-Za-z]{36}\b`
}

// Verify checks a presented API key and returns its principal. Every failure is an [*Error]
// matching [ErrUnauthenticated] with the same client-facing answer, except a store failure,
// which matches [ErrUnavailable]. The returned principal is shared: do not modify it.
func (k *Keys) Verify(ctx context.Context, raw string) (*Principal, error) {
	pk, err := parseShape(raw)
	if err != nil {
		return nil, badKey(raw, ParsedKey{}, "", "malformed API key (", ")", err)
	}
	if pk.Prefix != k.prefix || pk.Env != k.env {
		return nil, badKey(raw, pk, "", "API key ", " is for another service or environment", nil)
	}
	now := k.now()
	if k.ttl > 0 {
		k.mu.RLock()
		e := k.cache[pk.ID]
		k.mu.RUnlock()
		if e != nil && now.Sub(e.fetched) < k.ttl {
			// The entry holds the hash of a key that passed every check, checksum included,
			// and prefix, environment and id already match it: equal hashes of the secret and
			// checksum mean the very same key, so the checksum need not be computed again.
			h := hashTail(pk.tail())
			if subtle.ConstantTimeCompare(h[:], e.hash[:]) != 1 {
				if !checksumOK(raw) { // a typo, answered as when the cache is cold
					return nil, badKey(raw, pk, "", "malformed API key (", ")", errMalformedKey)
				}
				return nil, badKey(raw, pk, pk.ID, "wrong secret for API key ", "", nil)
			}
			if !e.until.IsZero() && !now.Before(e.until) {
				return nil, badKey(raw, pk, pk.ID, "API key ", " expired or revoked", nil)
			}
			return e.principal, nil
		}
	}
	if !checksumOK(raw) {
		return nil, badKey(raw, pk, "", "malformed API key (", ")", errMalformedKey)
	}
	k.mu.RLock()
	gen := k.gen
	k.mu.RUnlock()
	sk, err := k.store.Key(ctx, pk.ID)
	if errors.Is(err, ErrKeyNotFound) {
		return nil, badKey(raw, pk, "", "unknown API key ", "", nil)
	}
	if err != nil {
		return nil, failure(http.StatusServiceUnavailable, "", fmt.Errorf("key store: %w", err))
	}
	if !hmac.Equal(k.digest(pk.ID, pk.secret), sk.Digest) {
		return nil, badKey(raw, pk, pk.ID, "wrong secret for API key ", "", nil)
	}
	if err := sk.usable(now); err != nil {
		e := badKey(raw, pk, pk.ID, "", "", err)
		e.Err.(*keyError).causeFirst = true
		return nil, e
	}
	p := &Principal{
		Consumer: sk.Consumer, Tenant: sk.Tenant, Subject: sk.ID, KeyID: sk.ID, Plan: sk.Plan,
		Scopes: sk.Scopes, Metadata: sk.Metadata, Kind: KindAPIKey, Expires: sk.Expires,
	}
	if k.ttl > 0 {
		e := &keyEntry{principal: p, fetched: now, until: sk.Expires}
		if !sk.Revoked.IsZero() && (e.until.IsZero() || sk.Revoked.Before(e.until)) {
			e.until = sk.Revoked
		}
		e.hash = hashTail(pk.tail())
		k.mu.Lock()
		if k.gen != gen { // a key changed meanwhile; this row may predate it
			k.mu.Unlock()
			return p, nil
		}
		if len(k.cache) >= k.size {
			for id := range k.cache { // map order is random: evict an arbitrary entry
				delete(k.cache, id)
				break
			}
		}
		k.cache[pk.ID] = e
		k.mu.Unlock()
	}
	return p, nil
}

// String describes the verifier without its server secret.
func (k *Keys) String() string {
	return fmt.Sprintf("auth.Keys{prefix: %q, environment: %q, secret: %s}", k.prefix, k.env, redacted)
}

// GoString redacts the server secret for %#v.
func (k *Keys) GoString() string { return k.String() }

// Format prints [Keys.String] for every verb: without it %d or %x would print the fields,
// server secret included.
func (k *Keys) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue redacts the server secret in log/slog output.
func (k *Keys) LogValue() slog.Value {
	return slog.GroupValue(slog.String("prefix", k.prefix), slog.String("environment", k.env), slog.String("secret", redacted))
}

var _ interface {
	fmt.Stringer
	fmt.GoStringer
	fmt.Formatter
	slog.LogValuer
} = (*Keys)(nil)

// hashTail is SHA-256 of a key's secret and checksum: 36 bytes, one SHA-256 block. The
// string is copied to a stack array because converting it would allocate.
func hashTail(tail string) [sha256.Size]byte {
	var buf [keySecretLen + keyChecksumLen]byte
	return sha256.Sum256(buf[:copy(buf[:], tail)])
}

// digest is the stored form of a key: HMAC-SHA256 under the server secret, over a
// version tag, the key id and the secret, so a digest cannot be moved to another id.
func (k *Keys) digest(id, secret string) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte("tollgate-api-key-v1\x00"))
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Forget drops id from the cache, so the next presentation is checked against the store.
// Create, Rotate, Revoke and SetDisabled call it; call it after changing a key in the store
// by other means to apply the change before CacheTTL.
func (k *Keys) Forget(id string) {
	k.mu.Lock()
	k.gen++
	delete(k.cache, id)
	k.mu.Unlock()
}

var errReadOnly = errors.New("auth: the key store does not implement KeyWriter")

// Create issues a key. The returned [IssuedKey.Key] is the only copy of the secret.
func (k *Keys) Create(ctx context.Context, spec KeySpec) (IssuedKey, error) {
	if k.writer == nil {
		return IssuedKey{}, errReadOnly
	}
	if spec.Consumer == "" {
		return IssuedKey{}, errors.New("auth: KeySpec.Consumer is empty")
	}
	for range 3 { // a random 71-bit id collides only by accident; retry then
		id, raw := formatKey(k.prefix, k.env)
		pk, err := ParseKey(raw)
		if err != nil {
			return IssuedKey{}, fmt.Errorf("auth: issued a malformed key: %w", err)
		}
		sk := StoredKey{
			ID: id, Digest: k.digest(id, pk.secret), Hint: pk.Hint(),
			Consumer: spec.Consumer, Tenant: spec.Tenant, Plan: spec.Plan,
			Scopes: spec.Scopes, Metadata: spec.Metadata,
			Created: k.now().UTC(), Expires: spec.Expires,
		}
		err = k.writer.CreateKey(ctx, sk)
		if errors.Is(err, ErrKeyExists) {
			continue
		}
		if err != nil {
			return IssuedKey{}, fmt.Errorf("auth: create key: %w", err)
		}
		k.Forget(id)
		return IssuedKey{ID: id, Key: Secret(raw), Stored: sk.Clone()}, nil
	}
	return IssuedKey{}, errors.New("auth: could not find a free key id")
}

// Rotate issues a replacement for key id with the same consumer, scopes, plan, metadata
// and expiry, and makes the old key stop working after grace, so clients can deploy the
// new key while the old one still works. A zero grace ends the old key at once. A key has
// at most one replacement: when two rotations race, one wins and the other withdraws the
// key it issued and returns an error.
func (k *Keys) Rotate(ctx context.Context, id string, grace time.Duration) (IssuedKey, error) {
	if k.writer == nil {
		return IssuedKey{}, errReadOnly
	}
	old, err := k.store.Key(ctx, id)
	if err != nil {
		return IssuedKey{}, fmt.Errorf("auth: rotate key %s: %w", id, err)
	}
	now := k.now()
	if err := old.usable(now); err != nil {
		return IssuedKey{}, fmt.Errorf("auth: rotate key %s: %w", id, err)
	}
	issued, err := k.Create(ctx, KeySpec{
		Consumer: old.Consumer, Tenant: old.Tenant, Plan: old.Plan, Scopes: old.Scopes,
		Metadata: old.Metadata, Expires: old.Expires,
	})
	if err != nil {
		return IssuedKey{}, err
	}
	end := now.Add(grace).UTC()
	err = k.writer.UpdateKey(ctx, id, func(sk *StoredKey) error {
		// Checked again under the store's lock: another Rotate, a Revoke or a disable may
		// have landed since the read above, and a key must have one live replacement.
		if sk.ReplacedBy != "" {
			return fmt.Errorf("%w by %s", errAlreadyReplaced, sk.ReplacedBy)
		}
		if err := sk.usable(now); err != nil {
			return err
		}
		if sk.Expires.IsZero() || end.Before(sk.Expires) {
			sk.Expires = end
		}
		sk.ReplacedBy = issued.ID
		return nil
	})
	k.Forget(id)
	if err != nil {
		// The old key was not ended, so the rotation did not happen: withdraw its
		// replacement rather than leave a second live key behind.
		if rerr := k.Revoke(context.WithoutCancel(ctx), issued.ID); rerr != nil {
			return issued, fmt.Errorf("auth: rotate key %s: new key %s issued, but the old key was not ended (%w) and the new one not revoked: %w", id, issued.ID, err, rerr)
		}
		return IssuedKey{}, fmt.Errorf("auth: rotate key %s: %w", id, err)
	}
	return issued, nil
}

var errAlreadyReplaced = errors.New("key already replaced")

// Revoke ends key id now.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	now := k.now().UTC()
	return k.change(ctx, id, "revoke", func(sk *StoredKey) {
		if sk.Revoked.IsZero() {
			sk.Revoked = now
		}
	})
}

// SetDisabled suspends (true) or reinstates (false) key id.
func (k *Keys) SetDisabled(ctx context.Context, id string, disabled bool) error {
	return k.change(ctx, id, "disable", func(sk *StoredKey) { sk.Disabled = disabled })
}

// change applies fn to key id in the store and drops it from the cache.
func (k *Keys) change(ctx context.Context, id, what string, fn func(*StoredKey)) error {
	if k.writer == nil {
		return errReadOnly
	}
	err := k.writer.UpdateKey(ctx, id, func(sk *StoredKey) error {
		fn(sk)
		return nil
	})
	k.Forget(id)
	if err != nil {
		return fmt.Errorf("auth: %s key %s: %w", what, id, err)
	}
	return nil
}
