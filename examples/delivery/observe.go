package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate-dev/tollgate/observe"
)

// observeConfig is the part of the environment that shapes telemetry and shutdown.
type observeConfig struct {
	// TraceStdout writes every span to stdout as a JSON line next to the logs
	// (TRACE_STDOUT=true), so a request's trace id can be followed without a collector.
	TraceStdout bool
	// DrainDelay is how long the server keeps serving after SIGTERM with readiness at 503
	// (SHUTDOWN_DRAIN_DELAY, a Go duration; the observe default when empty).
	DrainDelay time.Duration
}

func loadObserveConfig(getenv func(string) string) (observeConfig, error) {
	var c observeConfig
	if v := getenv("TRACE_STDOUT"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("TRACE_STDOUT: %w", err)
		}
		c.TraceStdout = b
	}
	if v := getenv("SHUTDOWN_DRAIN_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("SHUTDOWN_DRAIN_DELAY: %w", err)
		}
		if d == 0 {
			d = -1 // observe reads zero as "default" and negative as "none"
		}
		c.DrainDelay = d
	}
	return c, nil
}

// newObserver sets up traces, metrics and JSON logs on stdout, with a log line per API
// request. Probes and metric scrapes, which arrive every few seconds from every load
// balancer and scraper, are served without traces, metrics or log lines.
func newObserver(ctx context.Context, c observeConfig, stdout io.Writer) (*observe.Observer, error) {
	cfg := observe.Config{
		Service:    "delivery",
		Version:    "1.0.0",
		LogWriter:  stdout,
		AccessLog:  true,
		DrainDelay: c.DrainDelay,
		Filter: func(r *http.Request) bool {
			switch r.URL.Path {
			case "/livez", "/readyz", "/metrics":
				return false
			}
			return true
		},
	}
	if c.TraceStdout {
		cfg.TraceWriter = stdout
	}
	return observe.New(ctx, cfg)
}
