// Package tollgate turns a Go HTTP service into a production API product from the inside:
// authentication, rate limits and quotas, usage metering, billing, observability and
// resilient upstream clients, as small composable packages that work with huma v2 and with
// any plain [net/http.Handler].
//
// This root package holds only documentation; the capabilities live in subpackages, each with
// one main type, a pure decision method that tests call directly, and thin adapters for
// net/http (Handler) and huma (Huma).
//
// # Package map
//
//	package     main type · decision                     port a backend implements
//	auth        *Authenticator · Authenticate(r)         KeyStore (+ optional KeyWriter)
//	ratelimit   *Limiter · Take(ctx, key, Limit, n)      Store
//	metering    *Meter · Record(ctx, Event)              Sink (durable before nil)
//	observe     *Observer · Handler, Huma, Serve         Checker (readiness)
//	clients     *Client, an http.RoundTripper chain      http.RoundTripper
//	billing     *Biller · Entitle, Rate, invoices        Store, Provider, Notifier
//	portal      *Portal · consumer and provider ops      (auth.KeyLister, billing.Account)
//
// Heavy backends are nested modules under the package they serve, so the core module stays
// light: auth/pgkeystore (PostgreSQL), ratelimit/redisstore (Redis), metering/pgsink
// (PostgreSQL), metering/natssink (NATS JetStream), billing/pgstore (PostgreSQL),
// billing/stripeprovider (Stripe) and observe/otlp (OTLP exporters).
//
// # Composition
//
// A production API in a few lines (errors elided):
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	obs, _ := observe.New(ctx, observe.Config{Service: "delivery"})
//	keys, _ := auth.NewKeys(auth.KeyConfig{Store: store, Secret: secret})
//	authn, _ := auth.New(auth.Config{Keys: keys})
//	limits, _ := ratelimit.New(ratelimit.Config{})        // in-process store
//	meter, _ := metering.New(metering.Config{Sink: sink, Dir: spoolDir}) // durable spool
//	obs.OnShutdown(meter.Close)                             // drain usage before exit
//
//	mux := http.NewServeMux()
//	obs.Mount(mux)                                          // /livez, /readyz, /metrics
//	api := humago.New(mux, huma.DefaultConfig("Delivery API", "1.0.0"))
//	api.UseMiddleware(obs.Huma(api), authn.Huma(api), meter.Huma(api), limits.Huma(api))
//	v1 := huma.NewGroup(api, "/v1")
//	v1.UseSimpleModifier(auth.Require("deliveries:write"))
//	v1.UseSimpleModifier(ratelimit.Limit(ratelimit.PerMinute(600)))
//	deliveries.Register(v1)
//	_ = obs.Serve(ctx, &http.Server{Addr: ":8080", Handler: obs.Handler(mux)})
//
// The order observe → auth → metering → ratelimit lets tracing see every rejection, gives
// limits and meters an identity to key on, and still meters a request that was limited.
// A service without huma composes the same values around its mux; observe.Routes passes the
// route the mux matched back out, so spans and metrics are named after the route:
//
//	obs.Handler(authn.Handler(meter.Handler(limits.Handler(observe.Routes(mux)))))
package tollgate
