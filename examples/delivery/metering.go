package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/examples/delivery/deliveries"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/pgsink"
)

// Metering in the example:
//
//   - every /v1 operation is metered, one event per call, rejected calls included;
//   - successful calls count one "requests" unit, createDelivery one "deliveries" unit;
//   - every text sent to a recipient counts one "sms" unit;
//   - GET /v1/me/usage shows the caller's own usage for the current day and month.
//
// Events are spooled under $DATA_DIR/metering (default ./data) and survive restarts. With
// DATABASE_URL set they go to PostgreSQL (pgsink) and usage is summed there, or to
// USAGE_DATABASE_URL when usage has a database of its own; otherwise a local store under
// the same directory keeps and sums them.
//
// While the usage database is unreachable the spool holds the events, up to
// METERING_SPOOL_BYTES (256 MiB); beyond that metered calls (every /v1 call counts a
// "requests" unit) are refused with 503 and Retry-After before they run, so nothing is
// served unbilled, and they resume once the database takes the backlog.
//
// Every event is in the spool, fsynced, before its response leaves the process (metering's
// Durable mode: one shared write per wake of the flusher), so even a SIGKILL or a power cut
// loses no billed call. METERING_DURABLE=false trades that for latency: events then wait
// up to 200ms in memory.

// newMeter builds the meter and the usage reader behind GET /v1/me/usage: pgsink on db, or
// the local store under DATA_DIR when db is nil. The returned function drains the meter;
// run it at shutdown.
func newMeter(ctx context.Context, getenv func(string) string, db *pgxpool.Pool, logger *slog.Logger) (*metering.Meter, metering.UsageReader, func(context.Context) error, error) {
	spoolBytes, err := spoolBound(getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg := metering.Config{Dir: filepath.Join(dataDir(getenv), "metering"), Source: "//delivery.example", Logger: logger,
		Durable: getenv("METERING_DURABLE") != "false", MaxSpoolBytes: spoolBytes, Overflow: metering.OverflowReject}
	var (
		usage   metering.UsageReader
		closeDB = func() {}
	)
	if url := getenv("USAGE_DATABASE_URL"); url != "" {
		if db, err = pgxpool.New(ctx, url); err != nil {
			return nil, nil, nil, fmt.Errorf("USAGE_DATABASE_URL: %w", err)
		}
		closeDB = db.Close
	}
	if db != nil {
		sink, err := pgsink.New(pgsink.Config{Pool: db})
		if err == nil {
			err = sink.Migrate(ctx)
		}
		if err != nil {
			closeDB()
			return nil, nil, nil, fmt.Errorf("metering: %w", err)
		}
		cfg.Sink, usage = sink, sink
	}
	meter, err := metering.New(cfg)
	if err != nil {
		closeDB()
		return nil, nil, nil, err
	}
	closeMeter := func(ctx context.Context) error {
		defer closeDB() // after the last events have reached it
		return meter.Close(ctx)
	}
	if usage == nil {
		usage = meter.Usage() // the local store under DATA_DIR
	}
	return meter, syncedUsage{meter, usage}, closeMeter, nil
}

// spoolBound reads METERING_SPOOL_BYTES, the most the usage spool may hold while its sink
// is unreachable: 256 MiB (about a million events) unless set.
func spoolBound(getenv func(string) string) (int64, error) {
	v := getenv("METERING_SPOOL_BYTES")
	if v == "" {
		return 256 << 20, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("METERING_SPOOL_BYTES: want a positive number of bytes, got %q", v)
	}
	return n, nil
}

// syncedUsage reads your own writes: before summing usage it waits (briefly) until the
// events recorded so far are stored, so an invoice or a usage page includes the call just
// made.
type syncedUsage struct {
	meter *metering.Meter
	metering.UsageReader
}

func (s syncedUsage) Usage(ctx context.Context, q metering.UsageQuery) ([]metering.UsageRow, error) {
	syncCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.meter.Sync(syncCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return s.UsageReader.Usage(ctx, q)
}

// meterOperations declares the units of the operations of v1 registered after it, counts
// the texts svc sends, and registers GET /v1/me/usage with readPolicy.
func meterOperations(v1 *huma.Group, svc *deliveries.Service, meter *metering.Meter, usage metering.UsageReader, readPolicy []func(*huma.Operation)) {
	v1.UseSimpleModifier(metering.Units("requests", 1))
	v1.UseSimpleModifier(func(op *huma.Operation) {
		if op.OperationID == "createDelivery" {
			metering.Units("deliveries", 1)(op)
		}
	})
	if svc.SMS != nil {
		svc.SMS = meteredSMS{svc.SMS}
	}
	registerUsage(v1, meter, usage, readPolicy)
}

type meteredSMS struct{ deliveries.Notifier }

func (m meteredSMS) NotifyRecipient(ctx context.Context, phone, text string) error {
	if err := m.Notifier.NotifyRecipient(ctx, phone, text); err != nil {
		return err
	}
	metering.FromContext(ctx).Add("sms", 1)
	return nil
}

// UsagePeriod is the usage of one period.
type UsagePeriod struct {
	Start time.Time        `json:"start" doc:"Start of the period (UTC)"`
	Usage map[string]int64 `json:"usage" doc:"Units per meter" example:"{\"deliveries\":12,\"requests\":40,\"sms\":12}"`
}

type usageOutput struct {
	Body struct {
		Consumer string      `json:"consumer"`
		Day      UsagePeriod `json:"day" doc:"Usage today (UTC)"`
		Month    UsagePeriod `json:"month" doc:"Usage this calendar month (UTC)"`
	}
}

func registerUsage(api huma.API, meter *metering.Meter, usage metering.UsageReader, readPolicy []func(*huma.Operation)) {
	op := huma.Operation{
		OperationID: "getMyUsage",
		Method:      http.MethodGet,
		Path:        "/me/usage",
		Summary:     "Get your usage",
		Description: "Units consumed by the calling account per meter, today and this month. " +
			"Includes every call made before this one.",
		Tags: []string{"Usage"},
	}
	for _, m := range readPolicy {
		m(&op)
	}
	huma.Register(api, op, func(ctx context.Context, _ *struct{}) (*usageOutput, error) {
		p := auth.FromContext(ctx)
		if p == nil || p.Consumer == "" {
			return nil, huma.Error401Unauthorized("authentication required")
		}
		now := time.Now()
		out := &usageOutput{}
		out.Body.Consumer = p.Consumer
		for _, period := range []struct {
			w   metering.Window
			dst *UsagePeriod
		}{{metering.Day, &out.Body.Day}, {metering.Month, &out.Body.Month}} {
			start := period.w.Start(now)
			rows, err := usage.Usage(ctx, metering.UsageQuery{Consumer: p.Consumer, Window: period.w, From: start})
			if err != nil {
				return nil, huma.Error503ServiceUnavailable("usage is unavailable", err)
			}
			*period.dst = UsagePeriod{Start: start, Usage: metering.Total(rows)}
		}
		return out, nil
	})
}
