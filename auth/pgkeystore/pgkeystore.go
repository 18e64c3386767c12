// Package pgkeystore keeps Tollgate API keys in PostgreSQL, for services that run on more
// than one node. It implements auth.KeyStore, auth.KeyWriter and auth.KeyLister over a
// *pgxpool.Pool the service already has.
//
// # Quick start
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	store, err := pgkeystore.New(pgkeystore.Config{Pool: pool})
//	err = store.Migrate(ctx) // or apply store.Schema() with your migration tool
//	keys, err := auth.NewKeys(auth.KeyConfig{Store: store, Secret: secret})
//
// # Schema
//
// One table (tollgate_api_keys by default) with the key id as primary key and an index on
// (consumer, created). It holds HMAC digests, never keys. Migrate is idempotent and safe to
// run from every replica at start-up.
//
// # Consistency
//
// UpdateKey reads the row with SELECT … FOR UPDATE and writes it in the same transaction, so
// concurrent rotations and revocations of one key never lose each other's changes. Readers
// on other nodes see a change on their next lookup; auth.Keys caches verified keys for its
// CacheTTL, which bounds how long a revocation takes to reach every node.
package pgkeystore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate-dev/tollgate/auth"
)

// Config configures a Store.
type Config struct {
	// Pool is the connection pool to use. Required; the Store does not close it.
	Pool *pgxpool.Pool
	// Table is the table name, optionally schema-qualified ("auth.api_keys"); empty means
	// "tollgate_api_keys". Lower-case letters, digits and underscores only.
	Table string
}

// Store is a PostgreSQL key store.
type Store struct {
	pool  *pgxpool.Pool
	table string // quoted, possibly schema-qualified
	index string // quoted index name
	cols  string
}

var (
	_ auth.KeyStore  = (*Store)(nil)
	_ auth.KeyWriter = (*Store)(nil)
	_ auth.KeyLister = (*Store)(nil)
)

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

const columns = "id, digest, hint, consumer, tenant, plan, scopes, metadata, created, expires, revoked, disabled, replaced_by"

// New returns a Store. It does not touch the database; call Migrate to create the table.
func New(cfg Config) (*Store, error) {
	if cfg.Pool == nil {
		return nil, errors.New("pgkeystore: Config.Pool is nil")
	}
	name := cfg.Table
	if name == "" {
		name = "tollgate_api_keys"
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("pgkeystore: table %q: at most schema.table", name)
	}
	for _, p := range parts {
		if !identifier.MatchString(p) {
			return nil, fmt.Errorf("pgkeystore: table %q: use lower-case letters, digits and underscores", name)
		}
	}
	return &Store{
		pool:  cfg.Pool,
		table: pgx.Identifier(parts).Sanitize(),
		index: pgx.Identifier{parts[len(parts)-1] + "_consumer_idx"}.Sanitize(),
		cols:  columns,
	}, nil
}

// Schema returns the DDL that Migrate runs, for services that manage migrations themselves.
func (s *Store) Schema() string {
	return `CREATE TABLE IF NOT EXISTS ` + s.table + ` (
	id          text PRIMARY KEY,
	digest      bytea NOT NULL,
	hint        text NOT NULL DEFAULT '',
	consumer    text NOT NULL,
	tenant      text NOT NULL DEFAULT '',
	plan        text NOT NULL DEFAULT '',
	scopes      text[] NOT NULL DEFAULT '{}',
	metadata    jsonb NOT NULL DEFAULT '{}',
	created     timestamptz NOT NULL,
	expires     timestamptz,
	revoked     timestamptz,
	disabled    boolean NOT NULL DEFAULT false,
	replaced_by text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS ` + s.index + ` ON ` + s.table + ` (consumer, created);
`
}

// Migrate creates the table and index when they do not exist.
func (s *Store) Migrate(ctx context.Context) error {
	// A transaction-scoped advisory lock keeps replicas that start together from racing on
	// CREATE … IF NOT EXISTS, which is not atomic against itself in PostgreSQL.
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgkeystore: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "tollgate.pgkeystore:"+s.table); err != nil {
		return fmt.Errorf("pgkeystore: migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, s.Schema()); err != nil {
		return fmt.Errorf("pgkeystore: migrate: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgkeystore: migrate: %w", err)
	}
	return nil
}

// Key implements auth.KeyStore.
func (s *Store) Key(ctx context.Context, id string) (auth.StoredKey, error) {
	k, err := scan(s.pool.QueryRow(ctx, `SELECT `+s.cols+` FROM `+s.table+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.StoredKey{}, auth.ErrKeyNotFound
	}
	if err != nil {
		return auth.StoredKey{}, fmt.Errorf("pgkeystore: key %s: %w", id, err)
	}
	return k, nil
}

// CreateKey implements auth.KeyWriter.
func (s *Store) CreateKey(ctx context.Context, k auth.StoredKey) error {
	if k.ID == "" {
		return errors.New("pgkeystore: key id is empty")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO `+s.table+` (`+s.cols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, args(k)...)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		return auth.ErrKeyExists
	}
	if err != nil {
		return fmt.Errorf("pgkeystore: create key %s: %w", k.ID, err)
	}
	return nil
}

// UpdateKey implements auth.KeyWriter.
func (s *Store) UpdateKey(ctx context.Context, id string, update func(*auth.StoredKey) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgkeystore: update key %s: %w", id, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	k, err := scan(tx.QueryRow(ctx, `SELECT `+s.cols+` FROM `+s.table+` WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.ErrKeyNotFound
	}
	if err != nil {
		return fmt.Errorf("pgkeystore: update key %s: %w", id, err)
	}
	if err := update(&k); err != nil {
		return err
	}
	if k.ID != id {
		return errors.New("pgkeystore: UpdateKey must not change the key id")
	}
	if _, err := tx.Exec(ctx, `UPDATE `+s.table+` SET digest = $2, hint = $3, consumer = $4, tenant = $5,
		plan = $6, scopes = $7, metadata = $8, created = $9, expires = $10, revoked = $11,
		disabled = $12, replaced_by = $13 WHERE id = $1`, args(k)...); err != nil {
		return fmt.Errorf("pgkeystore: update key %s: %w", id, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgkeystore: update key %s: %w", id, err)
	}
	return nil
}

// ListKeys implements auth.KeyLister.
func (s *Store) ListKeys(ctx context.Context, consumer string) ([]auth.StoredKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+s.cols+` FROM `+s.table+` WHERE consumer = $1 ORDER BY created, id`, consumer)
	if err != nil {
		return nil, fmt.Errorf("pgkeystore: list keys: %w", err)
	}
	defer rows.Close()
	var out []auth.StoredKey
	for rows.Next() {
		k, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("pgkeystore: list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgkeystore: list keys: %w", err)
	}
	return out, nil
}

func args(k auth.StoredKey) []any {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	meta := k.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return []any{k.ID, k.Digest, k.Hint, k.Consumer, k.Tenant, k.Plan, scopes, meta,
		k.Created, nullTime(k.Expires), nullTime(k.Revoked), k.Disabled, k.ReplacedBy}
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func scan(row pgx.Row) (auth.StoredKey, error) {
	var (
		k                auth.StoredKey
		expires, revoked *time.Time
	)
	err := row.Scan(&k.ID, &k.Digest, &k.Hint, &k.Consumer, &k.Tenant, &k.Plan, &k.Scopes, &k.Metadata,
		&k.Created, &expires, &revoked, &k.Disabled, &k.ReplacedBy)
	if err != nil {
		return auth.StoredKey{}, err
	}
	k.Created = k.Created.UTC()
	if expires != nil {
		k.Expires = expires.UTC()
	}
	if revoked != nil {
		k.Revoked = revoked.UTC()
	}
	if len(k.Scopes) == 0 {
		k.Scopes = nil
	}
	if len(k.Metadata) == 0 {
		k.Metadata = nil
	}
	return k, nil
}
