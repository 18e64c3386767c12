// Package clients builds resilient HTTP clients for the upstream APIs a service calls:
// idempotency-aware retries with jittered backoff and a retry budget, circuit breakers that
// understand HTTP status codes, per-attempt timeouts, client tracing and metrics, and an
// optional guard against requests to internal addresses.
//
// It is built on [github.com/hashicorp/go-retryablehttp] for the retry loop and
// [github.com/sony/gobreaker/v2] for the breakers, and adds what they leave to the caller:
// which requests are safe to repeat, how much load retries may add, what counts as an
// upstream failure, and when the caller's deadline makes a retry pointless.
//
// # Quick start
//
// Make one [Client] per upstream with [New] and reuse it:
//
//	payments, err := clients.New(clients.Config{
//		Name:           "payments",
//		BaseURL:        "https://api.payments.example",
//		TracerProvider: obs.TracerProvider(), // nil: the otel globals
//		MeterProvider:  obs.MeterProvider(),
//	})
//	req, _ := payments.NewRequest(ctx, http.MethodPost, "/v1/charges", body)
//	req.Header.Set("Idempotency-Key", orderID) // makes the POST retryable
//	resp, err := payments.Do(req)              // error statuses become *clients.Error
//
// [Client.HTTPClient] is an ordinary [net/http.Client] for code that wants one, and
// [Client.Transport] is the round-trip chain for an http.Client of your own or an SDK that
// takes a RoundTripper. Every [Config] field has a named default (DefaultTimeout,
// DefaultMaxAttempts, …), so the zero Config works.
//
// # Retries
//
// GET, HEAD, PUT, DELETE, OPTIONS and TRACE are retried on connection errors, attempt
// timeouts and the statuses 408, 429, 500, 502, 503 and 504. POST and PATCH are retried only
// when they carry an Idempotency-Key header; [RetryConfig.GenerateIdempotencyKey] adds one,
// the same on every attempt. Any request that failed while connecting is retried, since
// nothing of it was sent.
//
// Waits use exponential backoff with full jitter. A Retry-After header (seconds or HTTP
// date) replaces the backoff, capped at [RetryConfig.MaxDelay]; negative or malformed
// values are ignored. A retry whose wait would outlast the caller's deadline is not made:
// the caller gets the last answer at once instead of a timeout later.
//
// Retries draw on a budget shared by the Client ([BudgetConfig]): each call earns a tenth of
// a retry, plus a floor of DefaultBudgetMinPerSecond retries per second so that a quiet
// client can still retry. When an upstream fails outright the Client sends at most about
// 1.1 attempts per call instead of MaxAttempts, so retries cannot turn an outage into an
// overload. A retry refused by the budget is reported as [ErrRetryBudgetExhausted].
//
// Request bodies are replayed from GetBody (set by [net/http.NewRequest] for in-memory
// bodies), by seeking an [io.Seeker] back, or by buffering a body of up to
// [RetryConfig.MaxBufferedBody]; a larger streamed body is sent once, without retries,
// rather than held in memory.
//
// # Circuit breakers
//
// Each upstream host has a breaker outside the retries, so it judges whole calls. A call
// fails when it ends in a transport error, an attempt timeout or a 5xx (and a 429 with
// [BreakerConfig.TripOn429]). The caller cancelling or running out of time is not counted,
// since it says nothing about the upstream, unless an attempt had already failed: a hung
// upstream whose attempts time out one after another still trips the breaker when the
// caller's deadline cuts the last attempt short. After DefaultBreakerFailures failures in a row
// the breaker opens and calls fail at once with [ErrCircuitOpen], without a span, a retry
// or an allocation. After [BreakerConfig.OpenFor] it lets exactly [BreakerConfig.Probes]
// calls through; if they all succeed it closes, otherwise it opens again.
//
// # Timeouts
//
// The caller's context always wins. Inside it, [Config.AttemptTimeout] bounds each attempt
// up to the response headers, so one hung connection costs one attempt, not the whole
// call; [Config.Timeout] bounds the whole call through [Client.HTTPClient] and [Client.Do].
//
// # Errors
//
// Failures are *[Error] values carrying the upstream name, method, URL (without query or
// credentials), last status, attempts made and, for error statuses, the upstream's
// problem+json body. They match [ErrUpstream] and their cause: [ErrCircuitOpen],
// [ErrRetryBudgetExhausted], [ErrAttemptTimeout], [ErrBlockedAddress],
// [ErrResponseTooLarge], [ErrStatus], [context.DeadlineExceeded]… [StatusError] maps them to
// the problem a service answers its own caller with (502, 503 with Retry-After, 504),
// without passing on the upstream's details.
//
// # Observability
//
// Each call has a client span named after the method, with the OpenTelemetry HTTP semantic
// conventions (http.request.method, server.address, url.full without the query,
// http.response.status_code, http.request.resend_count, error.type) and an event per
// attempt and per retry; the trace context is injected into the request. Metrics:
// tollgate.client.attempts (by outcome), tollgate.client.retries,
// tollgate.client.retry_budget.exhausted, tollgate.client.breaker.rejections and the
// tollgate.client.breaker.state gauge (0 closed, 1 half-open, 2 open), all with the
// tollgate.upstream attribute.
//
// # Performance
//
// On a loopback call (the harshest case: the network itself costs about 14 µs) a Client
// with the default Config adds about 1.3 µs and 5 allocations to a plain
// [net/http.Client]. Most of that is the attempt timeout: net/http's own response-header
// timer costs 4 of the allocations and about 0.7 µs. With AttemptTimeout negative, a Client
// adds about 0.6 µs and 1 allocation, within a few percent of a plain retryablehttp client
// behind a gobreaker breaker, which has neither budget, tracing nor idempotency rules. A
// call rejected by an open breaker costs under 100 ns and allocates nothing.
// BenchmarkCallInterleaved times the contenders on the same calls.
//
// # Security
//
// For webhooks and any URL a user supplies, set [Config.Guard]: it refuses loopback,
// private, link-local and cloud metadata addresses (169.254.169.254, fd00:ec2::254, …) in
// the dialer, after DNS resolution, so a name that resolves to an internal address, a DNS
// rebinding and a redirect are all caught. Redirects are not followed unless
// [Config.MaxRedirects] says so, and response bodies are capped at
// [Config.MaxResponseBytes].
package clients
