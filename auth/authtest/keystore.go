// Package authtest checks implementations of the auth package's ports.
//
// A key store backend runs the conformance kit from its own tests:
//
//	func TestStore(t *testing.T) {
//		authtest.RunKeyStore(t, func(t *testing.T) auth.KeyStore { return newStore(t) })
//	}
//
// Each subtest gets a fresh store from newStore; register cleanup with t.Cleanup.
package authtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
)

// RunKeyStore runs the conformance tests for an [auth.KeyStore]. The writing tests run when
// the store implements [auth.KeyWriter], the listing test when it implements
// [auth.KeyLister]; a read-only store must be seeded by newStore with nothing, and only the
// lookup contract is checked.
func RunKeyStore(t *testing.T, newStore func(t *testing.T) auth.KeyStore) {
	t.Helper()
	ctx := context.Background()

	t.Run("missing key is ErrKeyNotFound", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Key(ctx, "doesnotexist")
		require.ErrorIs(t, err, auth.ErrKeyNotFound)
	})
	t.Run("cancelled context", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.Key(cctx, "anything")
		require.Error(t, err)
		require.NotErrorIs(t, err, auth.ErrKeyNotFound, "a store that could not ask must not claim the key is missing")
	})
	writer := func(t *testing.T) (auth.KeyStore, auth.KeyWriter) {
		s := newStore(t)
		w, ok := s.(auth.KeyWriter)
		if !ok {
			t.Skip("store does not implement auth.KeyWriter")
		}
		return s, w
	}
	t.Run("create then read round-trips every field", func(t *testing.T) {
		s, w := writer(t)
		k := sample("k1", "alice")
		require.NoError(t, w.CreateKey(ctx, k))
		got, err := s.Key(ctx, k.ID)
		require.NoError(t, err)
		assertSame(t, k, got)
	})
	t.Run("zero times and empty collections round-trip", func(t *testing.T) {
		s, w := writer(t)
		k := auth.StoredKey{ID: "bare", Digest: []byte{1, 2, 3}, Consumer: "bob", Created: time.Unix(1700000000, 0).UTC()}
		require.NoError(t, w.CreateKey(ctx, k))
		got, err := s.Key(ctx, "bare")
		require.NoError(t, err)
		assert.True(t, got.Expires.IsZero())
		assert.True(t, got.Revoked.IsZero())
		assert.Empty(t, got.Scopes)
		assert.Empty(t, got.Metadata)
		assert.False(t, got.Disabled)
	})
	t.Run("duplicate id is ErrKeyExists", func(t *testing.T) {
		s, w := writer(t)
		require.NoError(t, w.CreateKey(ctx, sample("dup", "alice")))
		err := w.CreateKey(ctx, sample("dup", "mallory"))
		require.ErrorIs(t, err, auth.ErrKeyExists)
		got, err := s.Key(ctx, "dup")
		require.NoError(t, err)
		assert.Equal(t, "alice", got.Consumer, "a refused create must not overwrite")
	})
	t.Run("update applies and persists", func(t *testing.T) {
		s, w := writer(t)
		require.NoError(t, w.CreateKey(ctx, sample("u1", "alice")))
		revoked := time.Unix(1800000000, 123000).UTC()
		require.NoError(t, w.UpdateKey(ctx, "u1", func(k *auth.StoredKey) error {
			k.Revoked = revoked
			k.Disabled = true
			k.ReplacedBy = "u2"
			k.Scopes = append(k.Scopes, "extra")
			return nil
		}))
		got, err := s.Key(ctx, "u1")
		require.NoError(t, err)
		assert.True(t, revoked.Equal(got.Revoked), "revoked %v, got %v", revoked, got.Revoked)
		assert.True(t, got.Disabled)
		assert.Equal(t, "u2", got.ReplacedBy)
		assert.Equal(t, []string{"read", "write", "extra"}, got.Scopes)
	})
	t.Run("update of a missing key is ErrKeyNotFound", func(t *testing.T) {
		_, w := writer(t)
		err := w.UpdateKey(ctx, "nope", func(*auth.StoredKey) error { return nil })
		require.ErrorIs(t, err, auth.ErrKeyNotFound)
	})
	t.Run("failed update writes nothing", func(t *testing.T) {
		s, w := writer(t)
		require.NoError(t, w.CreateKey(ctx, sample("f1", "alice")))
		boom := errors.New("boom")
		err := w.UpdateKey(ctx, "f1", func(k *auth.StoredKey) error {
			k.Consumer = "mallory"
			return boom
		})
		require.ErrorIs(t, err, boom)
		got, err := s.Key(ctx, "f1")
		require.NoError(t, err)
		assert.Equal(t, "alice", got.Consumer)
	})
	t.Run("update must not change the id", func(t *testing.T) {
		s, w := writer(t)
		require.NoError(t, w.CreateKey(ctx, sample("i1", "alice")))
		err := w.UpdateKey(ctx, "i1", func(k *auth.StoredKey) error {
			k.ID = "i2"
			return nil
		})
		require.Error(t, err)
		_, err = s.Key(ctx, "i2")
		require.ErrorIs(t, err, auth.ErrKeyNotFound)
	})
	t.Run("returned keys do not alias the store", func(t *testing.T) {
		s, w := writer(t)
		require.NoError(t, w.CreateKey(ctx, sample("a1", "alice")))
		got, err := s.Key(ctx, "a1")
		require.NoError(t, err)
		got.Scopes[0] = "admin"
		got.Metadata["team"] = "mallory"
		got.Digest[0] ^= 0xff
		again, err := s.Key(ctx, "a1")
		require.NoError(t, err)
		assertSame(t, sample("a1", "alice"), again)
	})
	t.Run("concurrent updates are atomic", func(t *testing.T) {
		s, w := writer(t)
		require.NoError(t, w.CreateKey(ctx, sample("c1", "alice")))
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- w.UpdateKey(ctx, "c1", func(k *auth.StoredKey) error {
					c, _ := strconv.Atoi(k.Metadata["count"])
					k.Metadata["count"] = strconv.Itoa(c + 1)
					return nil
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := s.Key(ctx, "c1")
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(n), got.Metadata["count"], "lost updates")
	})
	t.Run("list by consumer, oldest first", func(t *testing.T) {
		s, w := writer(t)
		l, ok := s.(auth.KeyLister)
		if !ok {
			t.Skip("store does not implement auth.KeyLister")
		}
		for i := 3; i >= 1; i-- {
			k := sample(fmt.Sprintf("l%d", i), "carol")
			k.Created = time.Unix(1700000000+int64(i), 0).UTC()
			require.NoError(t, w.CreateKey(ctx, k))
		}
		require.NoError(t, w.CreateKey(ctx, sample("other", "dave")))
		got, err := l.ListKeys(ctx, "carol")
		require.NoError(t, err)
		require.Len(t, got, 3)
		for i, k := range got {
			assert.Equal(t, fmt.Sprintf("l%d", i+1), k.ID)
		}
		none, err := l.ListKeys(ctx, "nobody")
		require.NoError(t, err)
		assert.Empty(t, none)
	})
}

func sample(id, consumer string) auth.StoredKey {
	return auth.StoredKey{
		ID:       id,
		Digest:   []byte("0123456789abcdef0123456789abcdef"),
		Hint:     "tg_live_" + id + "_…wxyz",
		Consumer: consumer,
		Tenant:   "acme",
		Plan:     "pro",
		Scopes:   []string{"read", "write"},
		Metadata: map[string]string{"team": "ops", "count": "0"},
		Created:  time.Unix(1700000000, 500000).UTC(),
		Expires:  time.Unix(1900000000, 0).UTC(),
	}
}

func assertSame(t *testing.T, want, got auth.StoredKey) {
	t.Helper()
	for _, p := range []struct {
		name string
		w, g time.Time
	}{{"Created", want.Created, got.Created}, {"Expires", want.Expires, got.Expires}, {"Revoked", want.Revoked, got.Revoked}} {
		assert.True(t, p.w.Equal(p.g), "%s: want %v, got %v", p.name, p.w, p.g)
	}
	want.Created, got.Created = time.Time{}, time.Time{}
	want.Expires, got.Expires = time.Time{}, time.Time{}
	want.Revoked, got.Revoked = time.Time{}, time.Time{}
	assert.Equal(t, want, got)
}
