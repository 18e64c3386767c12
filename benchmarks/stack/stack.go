package stackbench

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/observe"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

type itemOutput struct {
	Body struct {
		ID string `json:"id"`
	}
}

type itemInput struct {
	ID string `path:"id"`
}

func register(api huma.API, mods ...func(*huma.Operation)) {
	huma.Get(api, "/items/{id}", func(_ context.Context, in *itemInput) (*itemOutput, error) {
		out := &itemOutput{}
		out.Body.ID = in.ID
		return out, nil
	}, mods...)
}

// Bare is the operation GET /items/{id} on humago alone.
func Bare() http.Handler {
	mux := http.NewServeMux()
	register(humago.New(mux, huma.DefaultConfig("Bench", "1.0.0")))
	return mux
}

// Stack is the same operation behind some or all of the README's composition.
type Stack struct {
	Handler http.Handler
	// Key is an API key the operation accepts; empty without Layers.Auth.
	Key   string
	close func() error
}

// Close drains the meter and shuts the observer down.
func (s *Stack) Close() error { return s.close() }

// Layers picks the parts of the composition to serve the operation behind, so each one's
// cost shows on its own.
type Layers struct {
	// Observe adds observe's Handler and Huma middleware: RED metrics and a span per
	// request, sampled by Sampler (nil: never), exported to a discarding exporter.
	Observe bool
	Sampler sdktrace.Sampler
	// Auth requires an API key, verified from a warm cache.
	Auth bool
	// Meter records a usage event per call to the default local store, spooled under Dir
	// and fsynced per batch (empty Dir: in memory).
	Meter bool
	Dir   string
	// Limit adds an in-process limit that never rejects.
	Limit bool
}

// Full composes observe (RED metrics, tracing with sampler, spans to a discarding
// exporter), API-key auth with a warm cache, metering spooled under dir (fsynced per
// batch), and an in-process limit that never rejects.
func Full(sampler sdktrace.Sampler, dir string) (*Stack, error) {
	return Compose(Layers{Observe: true, Sampler: sampler, Auth: true, Meter: true, Dir: dir, Limit: true})
}

// Compose serves the operation behind the chosen layers, in the README's order.
func Compose(l Layers) (*Stack, error) {
	ctx := context.Background()
	st := &Stack{}
	var closers []func() error
	st.close = func() error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c())
		}
		return errors.Join(errs...)
	}
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("Bench", "1.0.0"))
	var mods []func(*huma.Operation)
	var obs *observe.Observer
	if l.Observe {
		sampler := l.Sampler
		if sampler == nil {
			sampler = sdktrace.NeverSample()
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithBatcher(discardExporter{}))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		var err error
		obs, err = observe.New(ctx, observe.Config{Service: "bench", TracerProvider: tp, MeterProvider: mp, LogWriter: io.Discard})
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() error { return obs.Shutdown(ctx) })
		api.UseMiddleware(obs.Huma(api))
	}
	if l.Auth {
		keys, err := auth.NewKeys(auth.KeyConfig{Secret: auth.Secret("0123456789abcdef0123456789abcdef")})
		if err != nil {
			return nil, err
		}
		issued, err := keys.Create(ctx, auth.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}})
		if err != nil {
			return nil, err
		}
		st.Key = issued.Key.Reveal()
		authn, err := auth.New(auth.Config{Keys: keys})
		if err != nil {
			return nil, err
		}
		api.UseMiddleware(authn.Huma(api))
		mods = append(mods, auth.Require("items:read"))
	} else {
		mods = append(mods, auth.Public())
	}
	if l.Meter {
		meter, err := metering.New(metering.Config{Dir: l.Dir})
		if err != nil {
			return nil, err
		}
		// Drain the meter before the observer shuts down, as a service does.
		closers = append([]func() error{func() error { return meter.Close(ctx) }}, closers...)
		api.UseMiddleware(meter.Huma(api))
		mods = append(mods, metering.Units("requests", 1))
	}
	if l.Limit {
		limits, err := ratelimit.New(ratelimit.Config{})
		if err != nil {
			return nil, err
		}
		api.UseMiddleware(limits.Huma(api))
		mods = append(mods, ratelimit.Limit(ratelimit.PerSecond(1_000_000_000)))
	}
	register(api, mods...)
	st.Handler = mux
	if obs != nil {
		st.Handler = obs.Handler(mux)
	}
	return st, nil
}
