// Command delivery is a complete API built with Tollgate: the delivery API a supermarket
// offers to its delivery partners.
//
// It runs with embedded defaults and no server:
//
//	go run ./examples/delivery
//
// and reads its configuration from the environment:
//
//	PORT                  listen port (8080; 0 picks a free one, logged as "serving")
//	TRACE_STDOUT          true writes spans to stdout as JSON lines, next to the logs
//	SHUTDOWN_DRAIN_DELAY  how long to keep serving after SIGTERM with /readyz at 503 (5s)
//	DATA_DIR, DATABASE_URL, TOLLGATE_KEY_SECRET, OIDC_ISSUER, OIDC_AUDIENCE: see auth.go
//	PAYMENTS_URL, SMS_URL, SANDBOX_FAIL  upstream providers (see upstreams.go)
//	DATA_DIR also holds the usage spool and the local usage store; with DATABASE_URL usage
//	events go to PostgreSQL (see metering.go); USAGE_DATABASE_URL sends them to another
//	database; METERING_DURABLE=false stops waiting for the spool before each response;
//	METERING_SPOOL_BYTES bounds the spool while the usage database is away (256 MiB)
//	REDIS_URL             share rate limits between replicas through Redis (see limits.go)
//	DATA_DIR also holds billing.jsonl: plans, subscriptions, finalised invoices (billing.go)
//	WEBHOOK_URL, WEBHOOK_SECRET  send signed billing webhooks to this endpoint (billing.go)
//
// It serves the API under /v1, its OpenAPI description at /openapi.json, documentation at
// /docs, the developer portal page at /portal, probes at /livez and /readyz and Prometheus metrics at /metrics, logs JSON lines
// carrying trace and request ids, and drains gracefully on SIGTERM.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/clients"
	"github.com/tollgate-dev/tollgate/examples/delivery/deliveries"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/observe"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The domain package logs through slog's default logger; give it trace ids too.
	slog.SetDefault(slog.New(observe.LogHandler(slog.NewJSONHandler(os.Stdout, nil))))
	serve := run
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		serve = runLambda // the same service as a Lambda function (see lambda.go)
	}
	if err := serve(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "delivery:", err)
		os.Exit(1)
	}
}

// config is what the example reads from its environment.
type config struct {
	Port    string
	Observe observeConfig
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{Port: getenv("PORT")}
	if c.Port == "" {
		c.Port = "8080"
	}
	var err error
	c.Observe, err = loadObserveConfig(getenv)
	return c, err
}

// run starts the API and blocks until ctx is cancelled and the server has drained, run its
// shutdown hooks and flushed its telemetry.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, a, err := start(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer a.close()
	srv := &http.Server{Addr: net.JoinHostPort("", cfg.Port), Handler: a.handler}
	return a.obs.Serve(ctx, srv)
}

// start reads the configuration and composes the app.
func start(ctx context.Context, getenv func(string) string, stdout io.Writer) (config, *app, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return cfg, nil, err
	}
	a, err := newApp(ctx, cfg, getenv, stdout)
	return cfg, a, err
}

// app is the composed service: its handler, its observer, and what to release after the
// server has stopped.
type app struct {
	obs     *observe.Observer
	handler http.Handler
	keys    *auth.Keys // issues keys, for operators' tooling
	meter   *metering.Meter
	closers []func()
}

// close shuts the observer down, which drains the meter through its shutdown hook (a no-op
// when Serve already did), and only then releases what newApp opened, last opened first:
// the meter's last events still need the database pool.
func (a *app) close() {
	_ = a.obs.Shutdown(context.Background())
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// newApp composes the delivery API: observe, auth, metering, billing and ratelimit around
// the deliveries domain, with its upstream payment and SMS providers.
func newApp(ctx context.Context, cfg config, getenv func(string) string, stdout io.Writer) (_ *app, err error) {
	obs, err := newObserver(ctx, cfg.Observe, stdout)
	if err != nil {
		return nil, err
	}
	a := &app{obs: obs}
	defer func() {
		if err != nil {
			a.close()
		}
	}()

	// One connection pool serves every PostgreSQL user (keys, usage, billing); nil in local mode.
	db, err := openDatabase(ctx, getenv)
	if err != nil {
		return nil, err
	}
	if db != nil {
		a.closers = append(a.closers, db.Close)
	}
	limits, closeLimits, err := newLimits(getenv)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = closeLimits() })
	// Failed authentications are throttled per client address and per key, on a budget apart
	// from any key's limits: guessing is slow, a victim's quota is never spent by the
	// attacker, and a valid credential is served from a throttled address too.
	throttle, err := ratelimit.NewAuthThrottle(ratelimit.AuthThrottleConfig{
		Limiter: limits, Rate: failedAuthRate, MeterProvider: obs.MeterProvider(), Logger: obs.Logger(),
	})
	if err != nil {
		return nil, err
	}
	authn, closeAuth, err := newAuth(ctx, getenv, db, stdout, throttle)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, closeAuth)
	a.keys = authn.Keys()
	meter, usage, closeMeter, err := newMeter(ctx, getenv, db, obs.Logger())
	if err != nil {
		return nil, err
	}
	obs.OnShutdown(closeMeter) // drains every usage event after the last request
	a.meter = meter
	biller, closeBiller, err := newBiller(ctx, getenv, db, usage, obs.Logger())
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, closeBiller)
	up, err := startUpstreams(getenv, obs.Logger(), func(c *clients.Config) {
		c.TracerProvider, c.MeterProvider = obs.TracerProvider(), obs.MeterProvider()
	})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, up.Close)

	mux := http.NewServeMux()
	obs.Mount(mux) // /livez, /readyz, /metrics
	api := newAPI(mux)
	// Every operation passes through these in order: observe first so that every rejection
	// is traced and counted, then auth (identity), metering (a 429 is still metered),
	// billing (entitlements, and the plan limits are keyed by), ratelimit (keyed by identity).
	api.UseMiddleware(obs.Huma(api), authn.Huma(api), meter.Huma(api), biller.Huma(api), limits.Huma(api))

	svc := &deliveries.Service{Store: deliveries.NewStore(nil), Owner: ownerOf, Payments: up.Payments, SMS: up.SMS}
	v1 := huma.NewGroup(api, "/v1")
	policy := authPolicy()
	meterOperations(v1, svc, meter, usage, policy.Read)
	limitDeliveries(v1)
	registerBilling(v1, biller, usage, policy.Read)
	if err := registerPortal(mux, v1, authn, usage, biller); err != nil {
		return nil, err
	}
	deliveries.Register(v1, svc, policy)

	a.handler = obs.Handler(mux)
	return a, nil
}

// dataDir is where local mode keeps keys, the usage spool and the usage store.
func dataDir(getenv func(string) string) string {
	if d := getenv("DATA_DIR"); d != "" {
		return d
	}
	return "data"
}

// openDatabase connects to DATABASE_URL, or returns nil in local mode.
func openDatabase(ctx context.Context, getenv func(string) string) (*pgxpool.Pool, error) {
	url := getenv("DATABASE_URL")
	if url == "" {
		return nil, nil
	}
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	return db, nil
}

func newAPI(mux *http.ServeMux) huma.API {
	hc := huma.DefaultConfig("Delivery API", "1.0.0")
	hc.Info.Description = "Create deliveries, follow their status and confirm receipt."
	return humago.New(mux, hc)
}
