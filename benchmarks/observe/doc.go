// Package observebench compares the request overhead of observe.Handler with contrib
// otelhttp on the same handler, unsampled and sampled, in one run:
//
//	go -C benchmarks test -run '^$' -bench . -benchmem ./observe/
//
// Overhead is a wrapper's time minus the bare handler's; the ratio that matters is
// observe's overhead over otelhttp's.
package observebench
