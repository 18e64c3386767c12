// Package clients builds resilient HTTP clients for the upstream APIs a service calls:
// idempotency-aware retries with jittered backoff and a retry budget, circuit breakers that
// understand HTTP status codes, per-attempt timeouts and client tracing.
package clients
