// Package benchmarks runs Tollgate side by side with the peers it replaces (otelhttp,
// httprate, redis_rate and others) in one process, so results read as ratios measured in the
// same run on the same machine. It is a separate module so the peers never enter the core
// module's dependencies.
//
//	go -C benchmarks test -run '^$' -bench . -benchmem ./...
package benchmarks
