// Package metering records a usage event for every call (who, what, when, units, status,
// latency) without blocking the request and without losing events, and delivers them in
// batches to pluggable durable sinks.
package metering
