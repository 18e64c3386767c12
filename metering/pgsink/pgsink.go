// Package pgsink stores usage events in PostgreSQL and sums them for usage queries: a
// metering.Sink and a metering.UsageReader over the pgx pool the service already has.
//
// # Quick start
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	sink, err := pgsink.New(pgsink.Config{Pool: pool})
//	err = sink.Migrate(ctx) // CREATE TABLE IF NOT EXISTS ...
//	meter, err := metering.New(metering.Config{Dir: dataDir, Sink: sink})
//	rows, err := sink.Usage(ctx, metering.UsageQuery{Consumer: c, Window: metering.Day, From: t})
//
// # Writes
//
// Write copies a batch into the table with COPY, the fastest way into PostgreSQL, in one
// statement (so a batch lands whole or not at all). A batch that repeats an event already
// stored (a redelivery after a crash or a timeout) makes COPY fail on the primary key; Write
// then copies the batch into a temporary table and moves it with INSERT ... ON CONFLICT (id)
// DO NOTHING, so each event id is stored once. Steady-state batches take only the fast path.
//
// # Schema
//
// One row per event, keyed by the event id (uuid), units as jsonb, and an index on
// (consumer, time) for usage queries. Migrate creates them; it is idempotent and safe to run
// from every replica at start.
package pgsink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-dev/tollgate/metering"
)

// DefaultTable is the table used when Config.Table is empty.
const DefaultTable = "tollgate_usage_events"

// Config configures a Sink.
type Config struct {
	// Pool is the service's connection pool. Required.
	Pool *pgxpool.Pool
	// Table is the events table, optionally schema-qualified ("billing.usage_events");
	// empty means DefaultTable. Lower-case letters, digits and underscores.
	Table string
}

// Sink writes events to PostgreSQL and answers usage queries from them.
type Sink struct {
	pool  *pgxpool.Pool
	ident pgx.Identifier
	table string // quoted
	index string // quoted index name
}

var (
	_ metering.Sink        = (*Sink)(nil)
	_ metering.UsageReader = (*Sink)(nil)
)

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$`)

// columns in COPY order.
var columns = []string{"id", "time", "source", "type", "operation", "consumer", "key_id", "plan",
	"status", "latency_ns", "request_bytes", "response_bytes", "units", "trace_id", "span_id",
	"idempotency_key"}

// New validates cfg. It does not touch the database; call Migrate for the schema.
func New(cfg Config) (*Sink, error) {
	if cfg.Pool == nil {
		return nil, errors.New("pgsink: Config.Pool is required")
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if !tableName.MatchString(cfg.Table) {
		return nil, fmt.Errorf("pgsink: table name %q: use lower-case letters, digits and underscores, optionally schema-qualified", cfg.Table)
	}
	ident := pgx.Identifier(strings.Split(cfg.Table, "."))
	last := ident[len(ident)-1]
	return &Sink{pool: cfg.Pool, ident: ident, table: ident.Sanitize(),
		index: pgx.Identifier{last + "_consumer_time"}.Sanitize()}, nil
}

// Migrate creates the table and its index if they do not exist. Replicas starting together
// may all call it: a transaction-scoped advisory lock on the table name serialises them, as
// CREATE ... IF NOT EXISTS alone races on the catalog (unique violation 23505).
func (s *Sink) Migrate(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "tollgate.pgsink.migrate:"+s.Table()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`
CREATE TABLE IF NOT EXISTS %[1]s (
	id              uuid PRIMARY KEY,
	time            timestamptz NOT NULL,
	source          text NOT NULL,
	type            text NOT NULL,
	operation       text NOT NULL DEFAULT '',
	consumer        text NOT NULL DEFAULT '',
	key_id          text NOT NULL DEFAULT '',
	plan            text NOT NULL DEFAULT '',
	status          integer NOT NULL DEFAULT 0,
	latency_ns      bigint NOT NULL DEFAULT 0,
	request_bytes   bigint NOT NULL DEFAULT 0,
	response_bytes  bigint NOT NULL DEFAULT 0,
	units           jsonb NOT NULL DEFAULT '{}',
	trace_id        text NOT NULL DEFAULT '',
	span_id         text NOT NULL DEFAULT '',
	idempotency_key text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS %[2]s ON %[1]s (consumer, time);`, s.table, s.index))
		return err
	})
	if err != nil {
		return fmt.Errorf("pgsink: migrate: %w", err)
	}
	return nil
}

// Write stores events; it returns nil once they are committed.
func (s *Sink) Write(ctx context.Context, events []metering.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	rows, err := Rows(events)
	if err != nil {
		return err
	}
	_, err = s.pool.CopyFrom(ctx, s.ident, columns, pgx.CopyFromRows(rows))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation: a redelivery
		err = s.writeDeduplicated(ctx, rows)
	}
	if err != nil {
		return fmt.Errorf("pgsink: write: %w", err)
	}
	return nil
}

func (s *Sink) writeDeduplicated(ctx context.Context, rows [][]any) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf(
			`CREATE TEMP TABLE tollgate_usage_stage (LIKE %s INCLUDING DEFAULTS) ON COMMIT DROP`, s.table)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tollgate_usage_stage"}, columns, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(
			`INSERT INTO %s SELECT DISTINCT ON (id) * FROM tollgate_usage_stage ON CONFLICT (id) DO NOTHING`, s.table))
		return err
	})
}

// Table returns the events table name as configured.
func (s *Sink) Table() string { return strings.Join(s.ident, ".") }

// Columns returns the table's columns in the order of Rows.
func Columns() []string { return append([]string(nil), columns...) }

// Rows converts events to COPY rows in the table's column order. It is exported for
// benchmarks that compare Write with a raw COPY of the same rows.
func Rows(events []metering.Event) ([][]any, error) {
	rows := make([][]any, len(events))
	for i := range events {
		e := &events[i]
		units, err := unitsJSON(e.Units)
		if err != nil {
			return nil, err
		}
		var traceID, spanID string
		if e.TraceID.IsValid() {
			traceID = e.TraceID.String()
		}
		if e.SpanID.IsValid() {
			spanID = e.SpanID.String()
		}
		rows[i] = []any{[16]byte(e.ID), e.Time, e.Source, e.Type, e.Operation, e.Consumer, e.KeyID,
			e.Plan, int32(e.Status), int64(e.Latency), e.RequestBytes, e.ResponseBytes, string(units),
			traceID, spanID, e.IdempotencyKey}
	}
	return rows, nil
}

// unitsJSON encodes units for the jsonb column, by hand for the usual plain meter names
// (COPY throughput is bounded by this conversion), with encoding/json for anything else.
func unitsJSON(units map[string]int64) ([]byte, error) {
	if len(units) == 0 {
		return []byte("{}"), nil
	}
	b := make([]byte, 0, 24*len(units))
	b = append(b, '{')
	for k, n := range units {
		for i := 0; i < len(k); i++ {
			if c := k[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
				return json.Marshal(units)
			}
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, n, 10)
	}
	return append(b, '}'), nil
}

// Usage sums units per meter and period for one consumer.
func (s *Sink) Usage(ctx context.Context, q metering.UsageQuery) ([]metering.UsageRow, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var from, to *time.Time
	if !q.From.IsZero() {
		f := q.Window.Start(q.From)
		from = &f
	}
	if !q.To.IsZero() {
		to = &q.To
	}
	var meter *string
	if q.Meter != "" {
		meter = &q.Meter
	}
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`
SELECT u.key, date_trunc($1, e.time AT TIME ZONE 'UTC') AS start, sum(u.value::bigint), count(*)
FROM %s e, jsonb_each_text(e.units) u
WHERE e.consumer = $2
  AND ($3::timestamptz IS NULL OR e.time >= $3)
  AND ($4::timestamptz IS NULL OR e.time < $4)
  AND ($5::text IS NULL OR u.key = $5)
GROUP BY 1, 2
ORDER BY 2, 1`, s.table), string(q.Window), q.Consumer, from, to, meter)
	if err != nil {
		return nil, fmt.Errorf("pgsink: usage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (metering.UsageRow, error) {
		row := metering.UsageRow{Consumer: q.Consumer}
		var start time.Time
		err := r.Scan(&row.Meter, &start, &row.Sum, &row.Count)
		// start is a timestamp without time zone holding UTC wall time.
		row.Start = time.Date(start.Year(), start.Month(), start.Day(), start.Hour(), 0, 0, 0, time.UTC)
		return row, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgsink: usage: %w", err)
	}
	return out, nil
}

// Events returns the stored events of consumer (every consumer when empty), oldest first.
// It is meant for tests and tools.
func (s *Sink) Events(ctx context.Context, consumer string) ([]metering.Event, error) {
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT %s FROM %s WHERE $1 = '' OR consumer = $1 ORDER BY time, id`,
		strings.Join(columns, ", "), s.table), consumer)
	if err != nil {
		return nil, fmt.Errorf("pgsink: events: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (metering.Event, error) {
		var e metering.Event
		var id [16]byte
		var status int32
		var latency int64
		var units map[string]int64
		var traceID, spanID string
		err := r.Scan(&id, &e.Time, &e.Source, &e.Type, &e.Operation, &e.Consumer, &e.KeyID, &e.Plan,
			&status, &latency, &e.RequestBytes, &e.ResponseBytes, &units, &traceID, &spanID, &e.IdempotencyKey)
		if err != nil {
			return e, err
		}
		e.ID, e.Status, e.Latency, e.Time = metering.ID(id), int(status), time.Duration(latency), e.Time.UTC()
		if len(units) > 0 {
			e.Units = units
		}
		if traceID != "" {
			if e.TraceID, err = trace.TraceIDFromHex(traceID); err != nil {
				return e, err
			}
		}
		if spanID != "" {
			if e.SpanID, err = trace.SpanIDFromHex(spanID); err != nil {
				return e, err
			}
		}
		return e, nil
	})
}
