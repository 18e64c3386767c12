package auth_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/auth/authtest"
)

func TestMemoryKeyStoreConformance(t *testing.T) {
	t.Parallel()
	authtest.RunKeyStore(t, func(t *testing.T) auth.KeyStore { return auth.NewMemoryKeyStore() })
}

func TestFileKeyStoreConformance(t *testing.T) {
	t.Parallel()
	authtest.RunKeyStore(t, func(t *testing.T) auth.KeyStore {
		s, err := auth.OpenFileKeyStore(filepath.Join(t.TempDir(), "keys.jsonl"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestFileKeyStoreSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "keys.jsonl")
	s, err := auth.OpenFileKeyStore(path)
	require.NoError(t, err)
	keys, err := auth.NewKeys(auth.KeyConfig{Store: s, Secret: testSecret})
	require.NoError(t, err)
	issued, err := keys.Create(ctx, auth.KeySpec{Consumer: "alice", Scopes: []string{"read"}})
	require.NoError(t, err)
	other, err := keys.Create(ctx, auth.KeySpec{Consumer: "bob"})
	require.NoError(t, err)
	require.NoError(t, keys.Revoke(ctx, other.ID))
	require.NoError(t, s.Close())

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// A crash mid-append leaves a torn record; it was never acknowledged and is dropped.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"id":"torn","consu`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s2, err := auth.OpenFileKeyStore(path)
	require.NoError(t, err)
	keys2, err := auth.NewKeys(auth.KeyConfig{Store: s2, Secret: testSecret})
	require.NoError(t, err)
	p, err := keys2.Verify(ctx, issued.Key.Reveal())
	require.NoError(t, err)
	assert.Equal(t, "alice", p.Consumer)
	_, err = keys2.Verify(ctx, other.Key.Reveal())
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "revocation must survive a restart")
	_, err = s2.Key(ctx, "torn")
	require.ErrorIs(t, err, auth.ErrKeyNotFound)
	// The store still appends after dropping the torn record, and what it appends is read
	// back after another restart rather than glued to the torn line.
	carol, err := keys2.Create(ctx, auth.KeySpec{Consumer: "carol"})
	require.NoError(t, err)
	require.NoError(t, s2.Close())
	s3, err := auth.OpenFileKeyStore(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s3.Close() })
	keys3, err := auth.NewKeys(auth.KeyConfig{Store: s3, Secret: testSecret})
	require.NoError(t, err)
	for consumer, key := range map[string]auth.Secret{"alice": issued.Key, "carol": carol.Key} {
		p, err := keys3.Verify(ctx, key.Reveal())
		require.NoError(t, err, consumer)
		assert.Equal(t, consumer, p.Consumer)
	}
}

func TestFileKeyStoreCompactsOnOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.jsonl")
	s, err := auth.OpenFileKeyStore(path)
	require.NoError(t, err)
	keys, err := auth.NewKeys(auth.KeyConfig{Store: s, Secret: testSecret})
	require.NoError(t, err)
	issued, err := keys.Create(ctx, auth.KeySpec{Consumer: "alice"})
	require.NoError(t, err)
	for range 50 {
		require.NoError(t, keys.SetDisabled(ctx, issued.ID, false))
	}
	require.NoError(t, s.Close())
	before, err := os.Stat(path)
	require.NoError(t, err)

	s2, err := auth.OpenFileKeyStore(path)
	require.NoError(t, err)
	require.NoError(t, s2.Close())
	after, err := os.Stat(path)
	require.NoError(t, err)
	assert.Less(t, after.Size(), before.Size()/10)

	s3, err := auth.OpenFileKeyStore(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s3.Close() })
	keys3, err := auth.NewKeys(auth.KeyConfig{Store: s3, Secret: testSecret})
	require.NoError(t, err)
	_, err = keys3.Verify(ctx, issued.Key.Reveal())
	require.NoError(t, err)
}

func TestFileKeyStoreRefusesCorruptJournal(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("not json\n"), 0o600))
	_, err := auth.OpenFileKeyStore(path)
	require.ErrorContains(t, err, "corrupt record")
}

func TestFileKeyStoreOneProcessAtATime(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.jsonl")
	s, err := auth.OpenFileKeyStore(path)
	require.NoError(t, err)
	_, err = auth.OpenFileKeyStore(path)
	require.ErrorContains(t, err, "open in another process")
	require.NoError(t, s.Close())
	s2, err := auth.OpenFileKeyStore(path)
	require.NoError(t, err, "closing releases the lock")
	require.NoError(t, s2.Close())
}
