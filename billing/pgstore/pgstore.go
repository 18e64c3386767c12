// Package pgstore keeps Tollgate billing's plans, subscriptions and finalised invoices in
// PostgreSQL, for services that run on more than one node. It implements billing.Store over
// a *pgxpool.Pool the service already has.
//
// # Quick start
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	store, err := pgstore.New(pgstore.Config{Pool: pool})
//	err = store.Migrate(ctx) // or apply store.Schema() with your migration tool
//	biller, err := billing.New(ctx, billing.Config{Usage: usage, Store: store, Plans: plans})
//
// # Schema
//
// Three tables named from a prefix (tollgate_billing by default): _plans keyed by plan key
// and version, _subscriptions keyed by consumer, _invoices keyed by consumer and invoice id
// with an index on (consumer, period_start). Each row keeps the value as jsonb, the form
// billing's types define, so the schema does not change when they gain fields. Migrate is
// idempotent and safe to run from every replica at start-up.
//
// # Consistency
//
// Publishing a plan version and finalising an invoice are insert-if-absent: when two nodes
// publish or finalise the same one, the second finds the first's row and succeeds only if it
// is the same (billing.ErrPlanConflict or billing.ErrInvoiceFinalized otherwise; an
// identical invoice is billing.ErrInvoiceExists, so only one node collects it). A status
// change of an invoice (paid, void) locks the row and checks that nothing but the status
// changes.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate-dev/tollgate/billing"
)

// Config configures a Store.
type Config struct {
	// Pool is the connection pool to use. Required; the Store does not close it.
	Pool *pgxpool.Pool
	// Prefix names the tables, optionally schema-qualified ("billing.tollgate"); empty
	// means "tollgate_billing". Lower-case letters, digits and underscores only.
	Prefix string
}

// Store is a PostgreSQL billing store.
type Store struct {
	pool                  *pgxpool.Pool
	plans, subs, invoices string // quoted table names
	index                 string
	lockKey               string
}

var _ billing.Store = (*Store)(nil)

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,40}$`)

// New returns a Store. It does not touch the database; call Migrate to create the tables.
func New(cfg Config) (*Store, error) {
	if cfg.Pool == nil {
		return nil, errors.New("pgstore: Config.Pool is nil")
	}
	name := cfg.Prefix
	if name == "" {
		name = "tollgate_billing"
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("pgstore: prefix %q: at most schema.prefix", name)
	}
	for _, p := range parts {
		if !identifier.MatchString(p) {
			return nil, fmt.Errorf("pgstore: prefix %q: use lower-case letters, digits and underscores", name)
		}
	}
	table := func(suffix string) string {
		id := append(pgx.Identifier{}, parts...)
		id[len(id)-1] += suffix
		return id.Sanitize()
	}
	return &Store{
		pool: cfg.Pool, plans: table("_plans"), subs: table("_subscriptions"), invoices: table("_invoices"),
		index: pgx.Identifier{parts[len(parts)-1] + "_invoices_period_idx"}.Sanitize(), lockKey: "tollgate.billing.pgstore:" + name,
	}, nil
}

// Schema returns the DDL that Migrate runs, for services that manage migrations themselves.
func (s *Store) Schema() string {
	return `CREATE TABLE IF NOT EXISTS ` + s.plans + ` (
	key     text NOT NULL,
	version integer NOT NULL,
	doc     jsonb NOT NULL,
	PRIMARY KEY (key, version)
);
CREATE TABLE IF NOT EXISTS ` + s.subs + ` (
	consumer text PRIMARY KEY,
	doc      jsonb NOT NULL,
	updated  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ` + s.invoices + ` (
	consumer     text NOT NULL,
	id           text NOT NULL,
	period_start timestamptz NOT NULL,
	status       text NOT NULL,
	doc          jsonb NOT NULL,
	PRIMARY KEY (consumer, id)
);
CREATE INDEX IF NOT EXISTS ` + s.index + ` ON ` + s.invoices + ` (consumer, period_start DESC);
`
}

// Migrate creates the tables when they do not exist.
func (s *Store) Migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		// CREATE … IF NOT EXISTS is not atomic against itself: replicas starting together
		// take turns.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, s.lockKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.Schema())
		return err
	})
}

func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		if errors.Is(err, billing.ErrPlanConflict) || errors.Is(err, billing.ErrInvoiceFinalized) || errors.Is(err, billing.ErrInvoiceExists) {
			return err
		}
		return fmt.Errorf("pgstore: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	return nil
}

// PutPlan implements billing.Store.
func (s *Store) PutPlan(ctx context.Context, p billing.Plan) error {
	if err := p.Validate(); err != nil {
		return err
	}
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var same bool
	err = s.pool.QueryRow(ctx, `WITH ins AS (
		INSERT INTO `+s.plans+` (key, version, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true
	) SELECT COALESCE((SELECT true FROM ins), (SELECT doc = $3::jsonb FROM `+s.plans+` WHERE key = $1 AND version = $2))`,
		p.Key, p.Version, doc).Scan(&same)
	if err != nil {
		return fmt.Errorf("pgstore: publish plan: %w", err)
	}
	if !same {
		return billing.ErrPlanConflict
	}
	return nil
}

// Plans implements billing.Store.
func (s *Store) Plans(ctx context.Context) ([]billing.Plan, error) {
	rows, err := s.pool.Query(ctx, `SELECT doc FROM `+s.plans+` ORDER BY key, version`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: plans: %w", err)
	}
	return collect[billing.Plan](rows)
}

// PutSubscription implements billing.Store.
func (s *Store) PutSubscription(ctx context.Context, sub billing.Subscription) error {
	if sub.Consumer == "" {
		return errors.New("pgstore: subscription without a consumer")
	}
	doc, err := json.Marshal(sub)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO `+s.subs+` (consumer, doc) VALUES ($1, $2)
		ON CONFLICT (consumer) DO UPDATE SET doc = EXCLUDED.doc, updated = now()`, sub.Consumer, doc)
	if err != nil {
		return fmt.Errorf("pgstore: put subscription: %w", err)
	}
	return nil
}

// Subscription implements billing.Store.
func (s *Store) Subscription(ctx context.Context, consumer string) (billing.Subscription, error) {
	return one[billing.Subscription](ctx, s.pool, `SELECT doc FROM `+s.subs+` WHERE consumer = $1`, consumer)
}

// Subscriptions implements billing.Store.
func (s *Store) Subscriptions(ctx context.Context) ([]billing.Subscription, error) {
	rows, err := s.pool.Query(ctx, `SELECT doc FROM `+s.subs+` ORDER BY consumer`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: subscriptions: %w", err)
	}
	return collect[billing.Subscription](rows)
}

// PutInvoice implements billing.Store.
func (s *Store) PutInvoice(ctx context.Context, inv billing.Invoice) error {
	if inv.Consumer == "" || inv.ID == "" {
		return errors.New("pgstore: invoice without a consumer or id")
	}
	if inv.Status == billing.InvoiceDraft {
		return errors.New("pgstore: drafts are computed, not stored")
	}
	doc, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO `+s.invoices+` (consumer, id, period_start, status, doc) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING`, inv.Consumer, inv.ID, inv.PeriodStart, inv.Status, doc)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		// Already stored: only the same invoice, at most with a later status, may replace it.
		var oldStatus string
		var sameContent bool
		err = tx.QueryRow(ctx, `SELECT status, (doc - 'status') = ($3::jsonb - 'status') FROM `+s.invoices+`
			WHERE consumer = $1 AND id = $2 FOR UPDATE`, inv.Consumer, inv.ID, doc).Scan(&oldStatus, &sameContent)
		if err != nil {
			return err
		}
		final := oldStatus == billing.InvoicePaid || oldStatus == billing.InvoiceVoid
		if !sameContent || (final && inv.Status != oldStatus) {
			return billing.ErrInvoiceFinalized
		}
		if inv.Status == oldStatus {
			return billing.ErrInvoiceExists
		}
		_, err = tx.Exec(ctx, `UPDATE `+s.invoices+` SET status = $3, doc = $4 WHERE consumer = $1 AND id = $2`,
			inv.Consumer, inv.ID, inv.Status, doc)
		return err
	})
}

// Invoice implements billing.Store.
func (s *Store) Invoice(ctx context.Context, consumer, id string) (billing.Invoice, error) {
	return one[billing.Invoice](ctx, s.pool, `SELECT doc FROM `+s.invoices+` WHERE consumer = $1 AND id = $2`, consumer, id)
}

// Invoices implements billing.Store.
func (s *Store) Invoices(ctx context.Context, consumer string) ([]billing.Invoice, error) {
	rows, err := s.pool.Query(ctx, `SELECT doc FROM `+s.invoices+` WHERE consumer = $1 ORDER BY period_start DESC, id`, consumer)
	if err != nil {
		return nil, fmt.Errorf("pgstore: invoices: %w", err)
	}
	return collect[billing.Invoice](rows)
}

func one[T any](ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) (T, error) {
	var v T
	var doc []byte
	err := pool.QueryRow(ctx, sql, args...).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, billing.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("pgstore: %w", err)
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		return v, fmt.Errorf("pgstore: decode: %w", err)
	}
	return v, nil
}

func collect[T any](rows pgx.Rows) ([]T, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) {
		var v T
		var doc []byte
		if err := r.Scan(&doc); err != nil {
			return v, err
		}
		return v, json.Unmarshal(doc, &v)
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}
