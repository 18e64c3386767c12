package pgkeystore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/auth/authtest"
	"github.com/tollgate-dev/tollgate/auth/pgkeystore"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// newPool connects to the test database; each test gets its own schema, dropped afterwards.
func newPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	url := tollgatetest.PostgresURL(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "pgkeystore_" + hex.EncodeToString(b)
	_, err = pool.Exec(ctx, `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := pool.Exec(context.WithoutCancel(ctx), `DROP SCHEMA `+schema+` CASCADE`)
		assert.NoError(t, err)
	})
	return pool, schema
}

func newStore(t *testing.T) *pgkeystore.Store {
	t.Helper()
	pool, schema := newPool(t)
	s, err := pgkeystore.New(pgkeystore.Config{Pool: pool, Table: schema + ".api_keys"})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

func TestConformance(t *testing.T) {
	authtest.RunKeyStore(t, func(t *testing.T) auth.KeyStore { return newStore(t) })
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	pool, schema := newPool(t)
	s, err := pgkeystore.New(pgkeystore.Config{Pool: pool, Table: schema + ".keys"})
	require.NoError(t, err)
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- s.Migrate(context.Background()) }()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	require.NoError(t, s.Migrate(context.Background()))
}

func TestWithKeys(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	keys, err := auth.NewKeys(auth.KeyConfig{Store: s, Secret: auth.Secret("0123456789abcdef0123456789abcdef"), Now: clock})
	require.NoError(t, err)
	issued, err := keys.Create(ctx, auth.KeySpec{Consumer: "alice", Scopes: []string{"read"}})
	require.NoError(t, err)
	p, err := keys.Verify(ctx, issued.Key.Reveal())
	require.NoError(t, err)
	assert.Equal(t, "alice", p.Consumer)
	next, err := keys.Rotate(ctx, issued.ID, time.Minute)
	require.NoError(t, err)
	_, err = keys.Verify(ctx, issued.Key.Reveal())
	require.NoError(t, err, "grace period")
	now = now.Add(time.Minute)
	_, err = keys.Verify(ctx, issued.Key.Reveal())
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.NoError(t, keys.Revoke(ctx, next.ID))
	_, err = keys.Verify(ctx, next.Key.Reveal())
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestUnavailableDatabase(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?connect_timeout=1")
	require.NoError(t, err)
	defer pool.Close()
	s, err := pgkeystore.New(pgkeystore.Config{Pool: pool})
	require.NoError(t, err)
	_, err = s.Key(context.Background(), "abc")
	require.Error(t, err)
	require.NotErrorIs(t, err, auth.ErrKeyNotFound, "an unreachable database is not a missing key")
}

func TestConfigValidation(t *testing.T) {
	_, err := pgkeystore.New(pgkeystore.Config{})
	require.Error(t, err)
	pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/x")
	require.NoError(t, err)
	defer pool.Close()
	for _, bad := range []string{`x"; DROP TABLE y; --`, "a.b.c", "Upper", "1abc"} {
		_, err := pgkeystore.New(pgkeystore.Config{Pool: pool, Table: bad})
		require.Error(t, err, bad)
	}
}
