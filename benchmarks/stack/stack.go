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

// Stack is the same operation behind the README's composition.
type Stack struct {
	Handler http.Handler
	// Key is an API key the operation accepts.
	Key   string
	close func() error
}

// Close drains the meter and shuts the observer down.
func (s *Stack) Close() error { return s.close() }

// Full composes observe (RED metrics, tracing with sampler, spans to a discarding
// exporter), API-key auth with a warm cache, metering spooled durably under dir, and an
// in-process limit that never rejects.
func Full(sampler sdktrace.Sampler, dir string) (*Stack, error) {
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithBatcher(discardExporter{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	obs, err := observe.New(ctx, observe.Config{Service: "bench", TracerProvider: tp, MeterProvider: mp, LogWriter: io.Discard})
	if err != nil {
		return nil, err
	}
	keys, err := auth.NewKeys(auth.KeyConfig{Secret: auth.Secret("0123456789abcdef0123456789abcdef")})
	if err != nil {
		return nil, err
	}
	issued, err := keys.Create(ctx, auth.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}})
	if err != nil {
		return nil, err
	}
	authn, err := auth.New(auth.Config{Keys: keys})
	if err != nil {
		return nil, err
	}
	limits, err := ratelimit.New(ratelimit.Config{})
	if err != nil {
		return nil, err
	}
	meter, err := metering.New(metering.Config{Dir: dir})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("Bench", "1.0.0"))
	api.UseMiddleware(obs.Huma(api), authn.Huma(api), meter.Huma(api), limits.Huma(api))
	register(api, auth.Require("items:read"), ratelimit.Limit(ratelimit.PerSecond(1_000_000_000)), metering.Units("requests", 1))
	return &Stack{Handler: obs.Handler(mux), Key: issued.Key.Reveal(), close: func() error {
		return errors.Join(meter.Close(ctx), obs.Shutdown(ctx))
	}}, nil
}
