package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/billing/pgstore"
	"github.com/tollgate-dev/tollgate/billing/webhooks"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

// Billing in the example: three plans priced in pounds sterling on the meters the API
// records (deliveries created, texts sent), calendar-month periods in London time, and the
// consumer's own plan and invoices under /v1/me. Consumers without a subscription are on
// the free plan. Plans, subscriptions and finalised invoices are kept in PostgreSQL with
// DATABASE_URL, otherwise in $DATA_DIR/billing.jsonl; drafts are rated from usage whenever
// they are read.

// featureHourlyUsage gates GET /v1/me/usage/hourly: paid plans only.
const featureHourlyUsage = "usage-analytics"

// plans is the example's catalog. Amounts are pence.
var plans = []billing.Plan{
	{
		Key: "free", Version: 1, Name: "Free", Currency: "GBP",
		Description: "100 deliveries a month to try the API.",
		Limits:      map[string]int64{"deliveries": 100},
		Prices:      []billing.Price{{Meter: "deliveries", Description: "Deliveries created", Model: billing.PerUnit}},
	},
	{
		Key: "starter", Version: 1, Name: "Starter", Currency: "GBP", Fee: 2900,
		Description: "£29 a month with 1,000 deliveries included, then 2p each; texts 5p per started block of 10.",
		Features:    []string{featureHourlyUsage},
		Limits:      map[string]int64{"deliveries": 20_000},
		Prices: []billing.Price{
			{Meter: "deliveries", Description: "Deliveries created", Model: billing.PerUnit, Unit: billing.Minor(2), Free: 1000},
			{Meter: "sms", Description: "Texts sent", Model: billing.Package, Unit: billing.Minor(5), PackageSize: 10},
		},
	},
	{
		Key: "growth", Version: 1, Name: "Growth", Currency: "GBP", Fee: 9900, TrialDays: 14,
		Description: "£99 a month, deliveries from 1.5p down to 0.5p with volume, texts 0.4p each; 14-day trial.",
		Features:    []string{featureHourlyUsage},
		Prices: []billing.Price{
			{Meter: "deliveries", Description: "Deliveries created", Model: billing.Graduated, Tiers: []billing.Tier{
				{UpTo: 10_000, Unit: billing.MustUnitPrice("1.5")},
				{UpTo: 100_000, Unit: billing.Minor(1)},
				{Unit: billing.MustUnitPrice("0.5")},
			}},
			{Meter: "sms", Description: "Texts sent", Model: billing.PerUnit, Unit: billing.MustUnitPrice("0.4")},
		},
	},
}

// billingZone is where billing periods start and end.
var billingZone = mustLocation("Europe/London")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// monthlyDeliveries enforces each plan's Limits["deliveries"] on createDelivery, from the
// same declaration that the plan shows consumers.
var monthlyDeliveries = billing.QuotaPolicy("monthly-deliveries", "deliveries", billingZone, plans)

// newBiller opens the billing store (PostgreSQL on db, or a journal under DATA_DIR when db
// is nil) and the Biller over usage. With
// WEBHOOK_URL and WEBHOOK_SECRET (whsec_...) set, billing events (invoice.finalized,
// subscription.changed) go to that endpoint as signed Standard Webhooks through a durable
// outbox under DATA_DIR/webhooks. A background loop finalises due invoices every minute and
// delivers the webhooks; close stops it and closes the journals.
func newBiller(ctx context.Context, getenv func(string) string, db *pgxpool.Pool, usage metering.UsageReader, logger *slog.Logger) (*billing.Biller, func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	var store billing.Store
	if db != nil {
		pg, err := pgstore.New(pgstore.Config{Pool: db})
		if err == nil {
			err = pg.Migrate(ctx)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("billing: %w", err)
		}
		store = pg
	} else {
		fs, err := billing.OpenFileStore(filepath.Join(dataDir(getenv), "billing.jsonl"))
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, func() { _ = fs.Close() })
		store = fs
	}
	cfg := billing.Config{Usage: usage, Store: store, Plans: plans, DefaultPlan: "free", Location: billingZone, Logger: logger}
	var outbox *webhooks.Outbox
	if url := getenv("WEBHOOK_URL"); url != "" {
		secret, err := webhooks.ParseSecret(getenv("WEBHOOK_SECRET"))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("WEBHOOK_SECRET: %w", err)
		}
		outbox, err = webhooks.OpenOutbox(webhooks.OutboxConfig{
			Dir: filepath.Join(dataDir(getenv), "webhooks"), Endpoints: []webhooks.Endpoint{{URL: url, Secret: secret}}, Logger: logger,
		})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, func() { _ = outbox.Close() })
		cfg.Notifier = outbox
	}
	b, err := billing.New(ctx, cfg)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("billing: %w", err)
	}
	loopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			if _, err := b.FinalizeDue(loopCtx); err != nil && loopCtx.Err() == nil {
				logger.Error("billing: finalising invoices", "error", err)
			}
			select {
			case <-loopCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	if outbox != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = outbox.Run(loopCtx) }()
	}
	closers = append(closers, func() { stop(); wg.Wait() })
	return b, closeAll, nil
}

type hourlyUsageOutput struct {
	Body struct {
		Hours []UsagePeriod `json:"hours" doc:"Usage per hour, oldest first; hours without usage are absent"`
	}
}

// registerBilling mounts the consumer's plan and invoices and the plan-gated hourly usage.
func registerBilling(v1 *huma.Group, b *billing.Biller, usage metering.UsageReader, readPolicy []func(*huma.Operation)) {
	billing.Register(v1, b, auth.Require())
	op := huma.Operation{
		OperationID: "getMyHourlyUsage", Method: http.MethodGet, Path: "/me/usage/hourly",
		Summary:     "Get your usage per hour",
		Description: "Units per meter for each hour of the last 48. Included in paid plans.",
		Tags:        []string{"Usage"},
	}
	for _, m := range append(readPolicy, billing.Entitled(featureHourlyUsage)) {
		m(&op)
	}
	huma.Register(v1, op, func(ctx context.Context, _ *struct{}) (*hourlyUsageOutput, error) {
		p := auth.FromContext(ctx)
		from := metering.Hour.Start(time.Now()).Add(-47 * time.Hour)
		rows, err := usage.Usage(ctx, metering.UsageQuery{Consumer: p.Consumer, Window: metering.Hour, From: from})
		if err != nil {
			return nil, huma.Error503ServiceUnavailable("usage is unavailable")
		}
		out := &hourlyUsageOutput{}
		out.Body.Hours = []UsagePeriod{}
		for _, r := range rows {
			if n := len(out.Body.Hours); n == 0 || !out.Body.Hours[n-1].Start.Equal(r.Start) {
				out.Body.Hours = append(out.Body.Hours, UsagePeriod{Start: r.Start, Usage: map[string]int64{}})
			}
			out.Body.Hours[len(out.Body.Hours)-1].Usage[r.Meter] = r.Sum
		}
		return out, nil
	})
}

// limitDeliveries applies the plans' monthly delivery quota to createDelivery.
func limitDeliveries(v1 *huma.Group) {
	v1.UseSimpleModifier(func(op *huma.Operation) {
		if op.OperationID == "createDelivery" {
			ratelimit.Apply(monthlyDeliveries)(op)
		}
	})
}
