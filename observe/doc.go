// Package observe gives a service OpenTelemetry traces and metrics, structured logs that
// carry trace and request ids, liveness and readiness probes, panic recovery, profiling
// endpoints and a graceful shutdown sequence.
//
// # Quick start
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	obs, err := observe.New(ctx, observe.Config{Service: "delivery", Version: "1.4.0"})
//	if err != nil { ... }
//	mux := http.NewServeMux()
//	obs.Mount(mux) // /livez, /readyz, /metrics
//	mux.HandleFunc("GET /items/{id}", getItem)
//	err = obs.Serve(ctx, &http.Server{Addr: ":8080", Handler: obs.Handler(mux)})
//
// [New] builds OpenTelemetry SDK tracer and meter providers that need no collector: spans
// get ids (so logs correlate) and can be written as JSON to [Config.TraceWriter]; metrics are
// served in the Prometheus format by [Observer.MetricsHandler]. Pass your own providers in
// [Config.TracerProvider] and [Config.MeterProvider], or add exporters with
// [Config.SpanExporters] and [Config.MetricReaders]; the observe/otlp module builds OTLP ones
// (it is a separate module because OTLP pulls in gRPC). Other instrumentation takes
// [Observer.TracerProvider], [Observer.MeterProvider] and [Observer.Logger]. The package
// never sets OpenTelemetry's global providers, so two Observers (or tests) cannot interfere;
// for libraries that only read the globals, set them once in main:
//
//	otel.SetTracerProvider(obs.TracerProvider())
//	otel.SetMeterProvider(obs.MeterProvider())
//	otel.SetTextMapPropagator(obs.Propagator())
//
// # net/http
//
// [Observer.Handler] wraps a handler, usually the whole router. Per request it continues the
// caller's W3C trace context and baggage, starts one server span with the HTTP semantic
// convention attributes, adopts a well-formed incoming X-Request-ID or generates one and
// echoes it, turns a panic into a problem+json 500, and records three metrics:
//
//	http.server.requests          counter    operation, status_class
//	http.server.request.duration  histogram  operation, status_class (seconds)
//	http.server.errors            counter    operation (5xx responses, panics included)
//	http.server.panics            counter    operation
//
// Spans and metrics are named after the route, never the raw path, so cardinality is
// bounded by the routes a service declares: the pattern an [net/http.ServeMux] matched
// ("GET /items/{id}"), the huma operation ID, or [Unmatched] for requests no route took.
// When other middleware sits between Handler and the ServeMux, wrap the mux in [Routes] so
// its pattern still reaches the span:
//
//	obs.Handler(authn.Handler(meter.Handler(limits.Handler(observe.Routes(mux)))))
//
// [Config.Filter] exempts requests, typically probes and metric scrapes, from all of it.
//
// # Huma
//
// Register [Observer.Huma] as the first huma middleware, before auth, metering and rate
// limiting, so every rejection is traced:
//
//	api.UseMiddleware(obs.Huma(api), authn.Huma(api), meter.Huma(api), limits.Huma(api))
//
// Inside Handler it names the span and metrics after the operation ID and answers panics
// through huma.WriteErr, so the API's error model applies. Without Handler around the router
// it does all of Handler's work itself, through huma.Context only.
//
// # Logs
//
// [Observer.Logger] writes JSON lines (or wraps [Config.Logger]); records logged with a
// request's context carry trace_id, span_id and request_id at the top level. [LogHandler]
// adds the same to any slog.Handler. An incoming X-Request-ID is adopted only if it is 1 to
// 128 characters from [A-Za-z0-9._:+/=-]: anything else could forge log fields or headers,
// so it is replaced rather than cleaned.
//
// # Health
//
// /livez answers 200 while the process serves HTTP; it never checks dependencies, because
// restarting would not fix them. /readyz runs every [Checker] added with
// [Observer.AddChecker] concurrently, each bounded by [Config.CheckTimeout], and answers 503
// if one fails or, from the first moment of shutdown, always. Failure reasons are logged,
// not returned to the unauthenticated prober.
//
// # Shutdown
//
// [Observer.Serve] fills in the timeouts and header limit that net/http leaves unlimited
// (see [DefaultReadHeaderTimeout] and the others), and when its context is cancelled (by
// SIGTERM through signal.NotifyContext) it turns readiness to 503, keeps serving for
// [Config.DrainDelay] so load balancers notice, shuts the server down with
// [Config.ShutdownTimeout] for in-flight requests, then runs the [Observer.OnShutdown] hooks
// (a usage meter's Close) and flushes telemetry within [Config.FlushTimeout]. The defaults
// add up to 25 s, inside Kubernetes' 30 s grace period. Services that serve another way call
// [Observer.Shutdown] themselves.
//
// # Profiling
//
// [PprofHandler] serves runtime profiles only where you mount it, and should sit behind
// your own authorisation. The package does not import net/http/pprof, whose import alone
// exposes profiles on http.DefaultServeMux.
//
// # Performance
//
// The hot path is built around allocations: one state value per request serves as its
// context, its response writer and the storage of its X-Request-ID header; metric attribute
// sets are computed once per route and looked up without locks; propagation headers are
// read without canonicalising their names per request; semantic-convention span attributes
// are computed only for sampled spans, and set in one call; and observe reads the clock
// once when a request starts and once when it ends (the SDK reads its own for sampled spans
// whatever it is given, so no timestamps are passed to it).
//
// Measured with benchmarks/observe (BenchmarkOverhead interleaves the three in short rounds
// and keeps each one's best, BenchmarkServer gives allocations) on a loaded 2-core machine,
// around a ServeMux route answering 204, with identical SDK providers, a span processor
// feeding a discarding exporter, and otelhttp v0.72.0 as the peer:
//
//	                    bare      observe.Handler     otelhttp.NewHandler
//	unsampled  time     100 ns    760-870 ns          4.1-5.4 µs
//	           allocs   1         6                   32
//	sampled    time     100 ns    3.0-3.7 µs          6.7-8.8 µs
//	           allocs   1         13                  39
//
// Unsampled, observe adds 0.14-0.17× the overhead otelhttp adds, and 5 allocations
// (TestAllocsUnsampled keeps it at most 6). Sampled, it adds 0.38-0.48× otelhttp's
// overhead, but costs 3.6-4.5× its own unsampled time: recording, ending and exporting a
// span in the OpenTelemetry SDK costs about 2.5 µs and 6 allocations by itself (otelhttp
// pays the same), which is three times the whole unsampled overhead. Sample at the rate
// your tracing backend needs; the metrics and log correlation do not depend on it.
package observe
