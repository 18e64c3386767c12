// Command delivery is a complete API built with Tollgate: the delivery API a supermarket
// offers to its delivery partners.
//
// It runs with embedded defaults and no server:
//
//	go run ./examples/delivery
//
// and reads its configuration from the environment:
//
//	PORT       listen port (8080)
//	REDIS_URL  share rate limits between replicas through Redis (in process when unset)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tollgate-dev/tollgate/examples/delivery/deliveries"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "delivery:", err)
		os.Exit(1)
	}
}

// config is what the example reads from its environment.
type config struct {
	Port string
}

func loadConfig(getenv func(string) string) config {
	c := config{Port: getenv("PORT")}
	if c.Port == "" {
		c.Port = "8080"
	}
	return c
}

// run starts the API and blocks until ctx is cancelled and the server has shut down.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg := loadConfig(getenv)
	logger := slog.New(slog.NewJSONHandler(stdout, nil))

	mux := http.NewServeMux()
	api := newAPI(mux)
	limits, closeLimits, err := newLimits(getenv)
	if err != nil {
		return err
	}
	defer func() { _ = closeLimits() }()
	api.UseMiddleware(limits.Huma(api)) // last: after auth and metering
	svc := &deliveries.Service{Store: deliveries.NewStore(nil)}
	v1 := huma.NewGroup(api, "/v1")
	deliveries.Register(v1, svc, deliveries.Policy{})

	ln, err := net.Listen("tcp", net.JoinHostPort("", cfg.Port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("listening", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func newAPI(mux *http.ServeMux) huma.API {
	hc := huma.DefaultConfig("Delivery API", "1.0.0")
	hc.Info.Description = "Create deliveries, follow their status and confirm receipt."
	return humago.New(mux, hc)
}
