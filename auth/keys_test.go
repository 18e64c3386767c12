package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

const testSecret = auth.Secret("0123456789abcdef0123456789abcdef-test-only")

// clock is an injected clock tests move by hand.
type clock = tollgatetest.Clock

func newClock() *clock { return tollgatetest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

// countingStore counts lookups, to prove which checks happen before the store is asked.
type countingStore struct {
	*auth.MemoryKeyStore
	lookups atomic.Int64
	fail    atomic.Bool
}

func (s *countingStore) Key(ctx context.Context, id string) (auth.StoredKey, error) {
	s.lookups.Add(1)
	if s.fail.Load() {
		return auth.StoredKey{}, errors.New("connection refused")
	}
	return s.MemoryKeyStore.Key(ctx, id)
}

func newKeys(t *testing.T, c *clock, store auth.KeyStore) *auth.Keys {
	t.Helper()
	k, err := auth.NewKeys(auth.KeyConfig{Store: store, Secret: testSecret, Now: c.Now})
	require.NoError(t, err)
	return k
}

func TestKeyFormat(t *testing.T) {
	t.Parallel()
	k := newKeys(t, newClock(), nil)
	issued, err := k.Create(context.Background(), auth.KeySpec{Consumer: "alice"})
	require.NoError(t, err)
	raw := issued.Key.Reveal()
	assert.Regexp(t, "^"+strings.Trim(auth.KeyPattern, `\b`)+"$", raw)
	assert.True(t, regexp.MustCompile(k.Pattern()).MatchString("token="+raw+";"))
	pk, err := auth.ParseKey(raw)
	require.NoError(t, err)
	assert.Equal(t, "tg", pk.Prefix)
	assert.Equal(t, "live", pk.Env)
	assert.Equal(t, issued.ID, pk.ID)
	assert.NotContains(t, fmt.Sprint(pk), raw[len(raw)-20:len(raw)-4], "a parsed key must print without its secret")
	assert.Equal(t, pk.Hint(), issued.Stored.Hint)
	assert.True(t, strings.HasSuffix(pk.Hint(), raw[len(raw)-4:]))
	assert.NotContains(t, string(issued.Stored.Digest), raw)

	// Every single-character typo and every truncation is caught by the checksum.
	for i := range raw {
		b := []byte(raw)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		_, err := auth.ParseKey(string(b))
		assert.Error(t, err, "typo at %d", i)
		_, err = auth.ParseKey(raw[:i])
		assert.Error(t, err, "truncated to %d", i)
	}
	// Adjacent transpositions too.
	for i := 0; i+1 < len(raw); i++ {
		b := []byte(raw)
		if b[i] == b[i+1] {
			continue
		}
		b[i], b[i+1] = b[i+1], b[i]
		_, err := auth.ParseKey(string(b))
		assert.Error(t, err, "transposition at %d", i)
	}
}

func TestSecretRedacts(t *testing.T) {
	t.Parallel()
	s := auth.Secret("hunter2-hunter2")
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v %+v", s, s, s, s), buf.String()} {
		assert.NotContains(t, out, "hunter2")
	}
	b, err := s.MarshalText()
	require.NoError(t, err)
	assert.NotContains(t, string(b), "hunter2")
	assert.Equal(t, "hunter2-hunter2", s.Reveal())
}

func TestNewKeysValidatesConfig(t *testing.T) {
	t.Parallel()
	_, err := auth.NewKeys(auth.KeyConfig{})
	require.ErrorContains(t, err, "Secret")
	_, err = auth.NewKeys(auth.KeyConfig{Secret: testSecret, Prefix: "Bad_Prefix"})
	require.Error(t, err)
}

func TestVerifyKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &countingStore{MemoryKeyStore: auth.NewMemoryKeyStore()}
	c := newClock()
	k := newKeys(t, c, store)
	issued, err := k.Create(ctx, auth.KeySpec{
		Consumer: "alice", Tenant: "acme", Plan: "pro", Scopes: []string{"read"},
		Metadata: map[string]string{"team": "ops"}, Expires: c.Now().Add(time.Hour),
	})
	require.NoError(t, err)
	raw := issued.Key.Reveal()

	p, err := k.Verify(ctx, raw)
	require.NoError(t, err)
	assert.Equal(t, &auth.Principal{
		Consumer: "alice", Tenant: "acme", Subject: issued.ID, KeyID: issued.ID, Plan: "pro",
		Scopes: []string{"read"}, Metadata: map[string]string{"team": "ops"}, Kind: auth.KindAPIKey,
		Expires: c.Now().Add(time.Hour),
	}, p)
	assert.EqualValues(t, 1, store.lookups.Load())
	_, err = k.Verify(ctx, raw)
	require.NoError(t, err)
	assert.EqualValues(t, 1, store.lookups.Load(), "a warm cache does not ask the store")

	t.Run("typos never reach the store", func(t *testing.T) {
		k.Forget(issued.ID) // a cached key would refuse the typo without the checksum
		before := store.lookups.Load()
		_, err := k.Verify(ctx, typo(raw))
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
		assert.Equal(t, before, store.lookups.Load())
	})
	t.Run("other environment refused", func(t *testing.T) {
		// Same store and secret: only the environment tells the keys apart.
		testKeys, err := auth.NewKeys(auth.KeyConfig{Store: store, Secret: testSecret, Environment: "test"})
		require.NoError(t, err)
		tk, err := testKeys.Create(ctx, auth.KeySpec{Consumer: "alice"})
		require.NoError(t, err)
		_, err = testKeys.Verify(ctx, tk.Key.Reveal())
		require.NoError(t, err, "the key works in its own environment")
		before := store.lookups.Load()
		_, err = k.Verify(ctx, tk.Key.Reveal())
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
		assert.Equal(t, before, store.lookups.Load(), "refused before the store is asked")
	})
	t.Run("unknown id and wrong secret look the same to the client", func(t *testing.T) {
		other := newKeys(t, c, nil) // same secret, different store: a well-formed key we do not hold
		ok, err := other.Create(ctx, auth.KeySpec{Consumer: "x"})
		require.NoError(t, err)
		_, errUnknown := k.Verify(ctx, ok.Key.Reveal())
		forged := forgeSecret(t, raw)
		_, errWrong := k.Verify(ctx, forged)
		k.Forget(issued.ID)
		_, errWrongCold := k.Verify(ctx, forged)
		for _, err := range []error{errUnknown, errWrong, errWrongCold} {
			require.ErrorIs(t, err, auth.ErrUnauthenticated)
			assert.Equal(t, auth.Problem(errUnknown).Error(), auth.Problem(err).Error())
			assert.NotContains(t, err.Error(), forged[20:len(forged)-4], "errors never carry the secret")
		}
	})
	t.Run("store failure is unavailable, not unauthenticated", func(t *testing.T) {
		k.Forget(issued.ID)
		store.fail.Store(true)
		defer store.fail.Store(false)
		_, err := k.Verify(ctx, raw)
		require.ErrorIs(t, err, auth.ErrUnavailable)
		require.NotErrorIs(t, err, auth.ErrUnauthenticated)
	})
	t.Run("expiry applies even from the cache", func(t *testing.T) {
		c.Advance(time.Hour - 10*time.Second) // the key expires in 10 s, well within CacheTTL
		_, err := k.Verify(ctx, raw)
		require.NoError(t, err)
		before := store.lookups.Load()
		c.Advance(10 * time.Second)
		_, err = k.Verify(ctx, raw)
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
		assert.Equal(t, before, store.lookups.Load(), "answered from the cache")
	})
}

// typo changes the last character of s.
func typo(s string) string {
	if s[len(s)-1] == '0' {
		return s[:len(s)-1] + "1"
	}
	return s[:len(s)-1] + "0"
}

// forgeSecret returns a well-formed key with raw's id but another secret.
func forgeSecret(t *testing.T, raw string) string {
	t.Helper()
	pk, err := auth.ParseKey(raw)
	require.NoError(t, err)
	for _, c := range "ABCDEFGH" {
		body := raw[:len(raw)-6-1] + string(c) // change the last secret character
		if body == raw[:len(raw)-6] {
			continue
		}
		if forged := withChecksum(body); forged != "" {
			fpk, err := auth.ParseKey(forged)
			require.NoError(t, err)
			require.Equal(t, pk.ID, fpk.ID)
			return forged
		}
	}
	t.Fatal("could not forge")
	return ""
}

// withChecksum appends the base62 CRC-32 checksum, as an attacker who knows the format can.
func withChecksum(body string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := crc32IEEE(body)
	var out [6]byte
	for i := 5; i >= 0; i-- {
		out[i] = digits[sum%62]
		sum /= 62
	}
	return body + string(out[:])
}

func TestRotationGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	k := newKeys(t, c, nil)
	old, err := k.Create(ctx, auth.KeySpec{Consumer: "alice", Scopes: []string{"read"}})
	require.NoError(t, err)
	_, err = k.Verify(ctx, old.Key.Reveal()) // warm the cache: rotation must not be hidden by it
	require.NoError(t, err)

	next, err := k.Rotate(ctx, old.ID, 10*time.Minute)
	require.NoError(t, err)
	assert.NotEqual(t, old.ID, next.ID)
	assert.Equal(t, []string{"read"}, next.Stored.Scopes)

	for _, d := range []time.Duration{0, 9*time.Minute + 59*time.Second} {
		c.Advance(d)
		_, err = k.Verify(ctx, old.Key.Reveal())
		require.NoError(t, err, "old key works during the grace period")
		p, err := k.Verify(ctx, next.Key.Reveal())
		require.NoError(t, err)
		assert.Equal(t, "alice", p.Consumer)
	}
	c.Advance(time.Second)
	_, err = k.Verify(ctx, old.Key.Reveal())
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "old key ends with the grace period")
	_, err = k.Verify(ctx, next.Key.Reveal())
	require.NoError(t, err)

	stored, err := k.Store().Key(ctx, old.ID)
	require.NoError(t, err)
	assert.Equal(t, next.ID, stored.ReplacedBy)

	_, err = k.Rotate(ctx, old.ID, time.Minute)
	require.Error(t, err, "an ended key cannot be rotated")
}

func TestRevocationBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	store := auth.NewMemoryKeyStore()
	// Two processes share one store; each has its own cache.
	admin := newKeys(t, c, store)
	server, err := auth.NewKeys(auth.KeyConfig{Store: store, Secret: testSecret, Now: c.Now, CacheTTL: 5 * time.Second})
	require.NoError(t, err)
	issued, err := admin.Create(ctx, auth.KeySpec{Consumer: "alice"})
	require.NoError(t, err)
	raw := issued.Key.Reveal()
	_, err = server.Verify(ctx, raw)
	require.NoError(t, err)
	_, err = admin.Verify(ctx, raw)
	require.NoError(t, err)

	require.NoError(t, admin.Revoke(ctx, issued.ID))
	_, err = admin.Verify(ctx, raw)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "the revoking process stops the key at once")

	c.Advance(5*time.Second - time.Nanosecond)
	_, err = server.Verify(ctx, raw)
	require.NoError(t, err, "another process may still accept it within CacheTTL")
	c.Advance(time.Nanosecond)
	_, err = server.Verify(ctx, raw)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "and never after CacheTTL")
}

func TestDisableAndReinstate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newKeys(t, newClock(), nil)
	issued, err := k.Create(ctx, auth.KeySpec{Consumer: "alice"})
	require.NoError(t, err)
	require.NoError(t, k.SetDisabled(ctx, issued.ID, true))
	_, err = k.Verify(ctx, issued.Key.Reveal())
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.NoError(t, k.SetDisabled(ctx, issued.ID, false))
	_, err = k.Verify(ctx, issued.Key.Reveal())
	require.NoError(t, err)
}

func TestReadOnlyStore(t *testing.T) {
	t.Parallel()
	k, err := auth.NewKeys(auth.KeyConfig{Store: readOnly{}, Secret: testSecret})
	require.NoError(t, err)
	_, err = k.Create(context.Background(), auth.KeySpec{Consumer: "a"})
	require.ErrorContains(t, err, "KeyWriter")
}

type readOnly struct{}

func (readOnly) Key(context.Context, string) (auth.StoredKey, error) {
	return auth.StoredKey{}, auth.ErrKeyNotFound
}

func crc32IEEE(s string) uint32 { return crc32.ChecksumIEEE([]byte(s)) }

// blockingStore holds Key calls until released, to put a Verify in flight.
type blockingStore struct {
	*auth.MemoryKeyStore
	block   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) Key(ctx context.Context, id string) (auth.StoredKey, error) {
	if !s.block.Load() {
		return s.MemoryKeyStore.Key(ctx, id)
	}
	sk, err := s.MemoryKeyStore.Key(ctx, id) // read before the revocation lands
	s.entered <- struct{}{}
	<-s.release
	return sk, err
}

func TestRevokeWinsOverInFlightVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &blockingStore{
		MemoryKeyStore: auth.NewMemoryKeyStore(),
		entered:        make(chan struct{}), release: make(chan struct{}),
	}
	k := newKeys(t, newClock(), store)
	issued, err := k.Create(ctx, auth.KeySpec{Consumer: "alice"})
	require.NoError(t, err)
	raw := issued.Key.Reveal()

	store.block.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := k.Verify(ctx, raw)
		done <- err
	}()
	<-store.entered // the Verify has read the unrevoked row
	store.block.Store(false)
	require.NoError(t, k.Revoke(ctx, issued.ID))
	close(store.release)
	require.NoError(t, <-done, "the in-flight Verify read the row before the revocation")

	_, err = k.Verify(ctx, raw)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "a revoked key must stop working at once")
}

func TestKeysNeverPrintTheServerSecret(t *testing.T) {
	t.Parallel()
	k := newKeys(t, newClock(), nil)
	secret := testSecret.Reveal()
	var jsonBuf, textBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonBuf, nil)).Info("x", "keys", k, slog.Any("any", k))
	slog.New(slog.NewTextHandler(&textBuf, nil)).Info("x", "keys", k, slog.Any("any", k))
	outs := map[string]string{"json": jsonBuf.String(), "text": textBuf.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		outs[verb] = fmt.Sprintf(verb, k)
	}
	for name, out := range outs {
		assert.NotContains(t, out, secret, name)
		assert.NotContains(t, out, fmt.Sprint([]byte(secret)), name)
		assert.NotContains(t, out, fmt.Sprintf("%x", secret), name)
		assert.NotContains(t, out, fmt.Sprintf("%d", []byte(secret)[:8]), name)
	}
}

// barrierStore holds every Key call until n callers have read, so concurrent Rotates all
// see the old key live before any of them ends it.
type barrierStore struct {
	*auth.MemoryKeyStore
	n       int32
	arrived atomic.Int32
	all     chan struct{}
}

func (s *barrierStore) Key(ctx context.Context, id string) (auth.StoredKey, error) {
	sk, err := s.MemoryKeyStore.Key(ctx, id)
	if s.arrived.Add(1) == s.n {
		close(s.all)
	}
	<-s.all
	return sk, err
}

func TestConcurrentRotateLeavesOneReplacement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	const n = 4
	store := &barrierStore{MemoryKeyStore: auth.NewMemoryKeyStore(), n: n, all: make(chan struct{})}
	k := newKeys(t, c, store)
	old, err := k.Create(ctx, auth.KeySpec{Consumer: "alice"})
	require.NoError(t, err)

	type result struct {
		issued auth.IssuedKey
		err    error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			issued, err := k.Rotate(ctx, old.ID, time.Hour)
			results <- result{issued, err}
		}()
	}
	var won []auth.IssuedKey
	for range n {
		r := <-results
		if r.err == nil {
			won = append(won, r.issued)
		} else {
			assert.Empty(t, r.issued.ID, "a failed rotation hands out no key")
		}
	}
	require.Len(t, won, 1, "exactly one rotation succeeds")

	keys, err := store.ListKeys(ctx, "alice")
	require.NoError(t, err)
	var live []string
	for _, sk := range keys {
		if sk.ID != old.ID && sk.Revoked.IsZero() {
			live = append(live, sk.ID)
		}
		if sk.ID == old.ID {
			assert.Equal(t, won[0].ID, sk.ReplacedBy)
		}
	}
	assert.Equal(t, []string{won[0].ID}, live, "one replacement lives; the others were withdrawn")
}

// forgeID returns a well-formed key, checksum included, whose id exists nowhere.
func forgeID(t testing.TB, raw string) string {
	t.Helper()
	pk, err := auth.ParseKey(raw)
	require.NoError(t, err)
	i := strings.Index(raw, pk.ID)
	id := []byte(pk.ID)
	id[0] = map[bool]byte{true: 'B', false: 'A'}[id[0] == 'A']
	forged := withChecksum(raw[:i] + string(id) + raw[i+len(id):len(raw)-6])
	fpk, err := auth.ParseKey(forged)
	require.NoError(t, err)
	require.NotEqual(t, pk.ID, fpk.ID)
	return forged
}
