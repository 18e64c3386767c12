// Package observebench compares the request overhead of observe.Handler with contrib
// otelhttp (v0.72.0) wrapping the same ServeMux route, unsampled and sampled, with
// identical OpenTelemetry SDK providers:
//
//	go -C benchmarks test -run '^$' -bench . -benchmem ./observe/
//
// BenchmarkServer reports each peer's time and allocations on its own. BenchmarkOverhead
// runs the peers in alternating short rounds and keeps each one's best round, which makes
// the ratios it reports (observe's overhead over the bare handler as a fraction of
// otelhttp's, and observe's sampled over unsampled cost) robust to load that other
// processes put on the machine.
package observebench
