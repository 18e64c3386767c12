// Package observe gives a service OpenTelemetry traces and metrics, structured logs that
// carry trace and request ids, liveness and readiness probes, panic recovery, profiling
// endpoints and a graceful shutdown sequence.
package observe
