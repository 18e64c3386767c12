// Package billing turns metered usage into money inside the service: a catalog of
// versioned plans with usage prices and entitlements, subscriptions per consumer, rating of
// each billing period from the metering package's usage into invoices, entitlement checks
// on the request path, and the consumer's own billing operations under /me.
//
// # Quick start
//
//	store, err := billing.OpenFileStore(filepath.Join(dataDir, "billing.jsonl")) // or billing.NewMemoryStore()
//	biller, err := billing.New(ctx, billing.Config{
//		Usage: usage, // a metering.Store or metering/pgsink: the same usage /me/usage shows
//		Store: store,
//		Plans: []billing.Plan{{
//			Key: "starter", Version: 1, Name: "Starter", Currency: "GBP", Fee: 2900,
//			Features: []string{"webhooks"}, Limits: map[string]int64{"deliveries": 10_000},
//			Prices: []billing.Price{{Meter: "deliveries", Model: billing.PerUnit, Unit: billing.MustUnitPrice("0.5"), Free: 1000}},
//		}},
//		DefaultPlan: "free",
//	})
//	api.UseMiddleware(obs.Huma(api), authn.Huma(api), meter.Huma(api), biller.Huma(api), limits.Huma(api))
//	huma.Post(v1, "/webhooks", createWebhook, billing.Entitled("webhooks")) // 402 unless the plan has it
//	billing.Register(v1, biller) // GET /me/plans, GET+PUT /me/subscription, GET /me/invoices[/{id}]
//
// # Plans and prices
//
// A [Plan] has a key and a version; a published version never changes ([ErrPlanConflict]),
// so a price change is a new version, and subscribers stay on theirs until [Biller.Migrate]
// moves them at a period's end. Money is int64 minor units with an ISO 4217 currency; unit
// prices are exact to a millionth of a minor unit ([UnitPrice]); nothing is floating point.
// A [Price] rates one meter per period: [PerUnit], [Package] (per started block),
// [Graduated] (each tier's units at its price) or [Volume] (all units at the price of the
// tier reached), with optional flat amounts per tier and a free allowance taken off first.
// Tier amounts are rounded half up to the minor unit and a line is the sum of its tiers.
// Invalid plans are refused when they are published.
//
// # Subscriptions and periods
//
// Billing periods are calendar months in [Config.Location]. A subscription's first period
// runs from its start to the first of the next month, so later periods line up with the
// calendar-month quotas of the ratelimit package; [Config.Anniversary] anchors them on the
// start day instead. [Biller.ChangePlan] starts a subscription (with the plan's trial, during
// which nothing is charged), changes plan now (each plan's fee prorated by the seconds spent
// on it, and usage rated under the plan in force, by the hour it was recorded in) or at the
// period's end, and resumes a canceled one. [Biller.Cancel] ends it now or at the period's end.
// Periods roll and pending changes apply as time passes, with no background job.
//
// # Rating and invoices
//
// [Biller.Rate] rates a period from usage queries: a line per plan fee and per priced meter,
// with quantity, unit price, amount and tier breakdown. It stores nothing and is
// deterministic: the invoice id derives from the consumer and the period ([InvoiceID]), so
// rating a period again, on any replica, gives the same invoice. Drafts are never stored;
// they are rated whenever read, so usage recorded late changes a draft with no write. When a
// period has ended and [Config.Grace] (one hour by default) has passed, the first read of the
// consumer's invoices, or [Biller.FinalizeDue] on a timer, finalises it: stored once, never
// changed again but for its status, handed to the [Provider] and announced as
// invoice.finalized to the [Notifier]. Usage recorded after that is not billed. The same
// pass announces entitlement.exceeded once per period when usage reaches a limit of the
// plan, and every subscription change is announced as subscription.changed.
//
// Rating reads hourly totals, so its cost does not grow with traffic: BenchmarkRateMonth
// rates a consumer-month of 1,000,000 events in about 1.1 ms from an in-process
// metering.Store (2-core amd64).
//
// # Entitlements
//
// [Entitled] is an operation modifier: it documents a 402 response and configures
// [Biller.Huma], which answers 402 problem+json naming the missing feature and the plans
// that include it (in the problem's errors, which huma's ErrorModel declares). The same
// middleware puts the consumer's billing plan on the [auth.Principal], so ratelimit
// policies by plan follow the subscription; [QuotaPolicy] turns the plans' Limits for a
// meter into such a policy, so the limit a plan declares is the limit enforced. Checks use a
// per-consumer cache: a change made through this Biller applies at once, one made on another
// replica within [Config.CacheTTL]. BenchmarkEntitle: about 67 ns and no allocation with a
// warm cache. For net/http, [Biller.Handler] and [Biller.Require].
//
// # Stores
//
// A [Store] keeps plans, subscriptions and finalised invoices. [MemoryStore] keeps them in
// process; [FileStore] adds a journal synced on every change (one process per journal);
// billing/pgstore keeps them in PostgreSQL for many replicas. billing/billingtest.RunStore
// checks any implementation against the contract; both stores here and pgstore (against a
// real server) run it.
//
// # Payment providers
//
// A [Provider] keeps a customer per consumer and collects finalised invoices;
// [ManualProvider], the default, leaves collection to you. billing/stripeprovider does it
// with Stripe (tested against stripe-mock): each Tollgate invoice becomes a finalised Stripe
// invoice with the same lines and amounts, every write keyed for idempotency.
//
// # Webhooks
//
// billing/webhooks delivers the [Notifier]'s events as signed Standard Webhooks through a
// durable outbox, and verifies inbound Standard Webhooks and Stripe-Signature headers.
package billing
