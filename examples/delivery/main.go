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
//	events go to PostgreSQL (see metering.go)
//
// It serves the API under /v1, its OpenAPI description at /openapi.json, documentation at
// /docs, probes at /livez and /readyz and Prometheus metrics at /metrics, logs JSON lines
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

	"github.com/tollgate-dev/tollgate/clients"
	"github.com/tollgate-dev/tollgate/examples/delivery/deliveries"
	"github.com/tollgate-dev/tollgate/observe"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The domain package logs through slog's default logger; give it trace ids too.
	slog.SetDefault(slog.New(observe.LogHandler(slog.NewJSONHandler(os.Stdout, nil))))
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
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
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	obs, err := newObserver(ctx, cfg.Observe, stdout)
	if err != nil {
		return err
	}
	// Serve shuts the observer down; this covers the early returns.
	defer func() { _ = obs.Shutdown(context.WithoutCancel(ctx)) }()

	authn, closeAuth, err := newAuth(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer closeAuth()

	mux := http.NewServeMux()
	obs.Mount(mux) // /livez, /readyz, /metrics
	api := newAPI(mux)
	// Every operation passes through these in order: observe first so that every rejection
	// is traced and counted, then auth (identity), metering (a 429 is still metered),
	// ratelimit (keyed by identity).
	middlewares := huma.Middlewares{obs.Huma(api), authn.Huma(api)}
	api.UseMiddleware(middlewares...)

	svc := &deliveries.Service{Store: deliveries.NewStore(nil), Owner: ownerOf}
	up, err := startUpstreams(getenv, obs.Logger(), func(c *clients.Config) {
		c.TracerProvider, c.MeterProvider = obs.TracerProvider(), obs.MeterProvider()
	})
	if err != nil {
		return err
	}
	defer up.Close()
	svc.Payments, svc.SMS = up.Payments, up.SMS
	v1 := huma.NewGroup(api, "/v1")
	policy := authPolicy()
	closeMetering, err := setupMetering(ctx, getenv, obs.Logger(), api, v1, svc, policy.Read)
	if err != nil {
		return err
	}
	obs.OnShutdown(closeMetering) // drains every usage event after the last request
	deliveries.Register(v1, svc, policy)

	srv := &http.Server{Addr: net.JoinHostPort("", cfg.Port), Handler: obs.Handler(mux)}
	return obs.Serve(ctx, srv)
}

func newAPI(mux *http.ServeMux) huma.API {
	hc := huma.DefaultConfig("Delivery API", "1.0.0")
	hc.Info.Description = "Create deliveries, follow their status and confirm receipt."
	return humago.New(mux, hc)
}
