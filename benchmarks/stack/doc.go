// Package stackbench measures what a user runs: one trivial huma operation served bare and
// behind the README's whole composition (observe with RED metrics and tracing, API-key
// auth, metering with a durable spool, an in-process limit that never rejects), over real
// loopback HTTP, interleaved request by request in one run.
//
//	go -C benchmarks test -run '^$' -bench FullStack -benchtime 5000x -count 2 ./stack/
//
// On a 2-core amd64 machine, client and both servers sharing the cores, four runs gave:
//
//	tracing     full / bare mean latency   bare p50 / p99    full p50 / p99
//	unsampled   1.35–1.50                  23 µs / 160–200   34 µs / 240–250
//	sampled     1.49–1.54                  27 µs / 250–320   43 µs / 700–715
//
// So the whole stack adds about 11 µs per request at the median (16 µs sampled), and serves
// 0.67–0.74× of bare huma's requests per second from one sequential client: short of the
// 0.90× goal.
//
// Whole-process throughput, with the server alone on one CPU and wrk on the other
// (benchmarks/scripts/fullstack-wrk, cmd/stackserver; 16 connections, 2 rounds of 5 s):
//
//	bare huma    67,000–67,500 req/s   p50 0.24 ms   p99 0.9–1.0 ms
//	full stack   27,400–29,200 req/s   p50 0.52 ms   p99 4.3–4.9 ms
//	full/bare    0.42
//
// Saturating one core, the stack's per-request work shows fully. A CPU profile of
// BenchmarkFullStack put observe's handler at about 13% of samples, and metering's
// delivery lane, reading each event back from the spool and decoding its JSON for the
// local store, at about 12%. A lane that keeps up now delivers the events it has just
// spooled from memory (the spool is read only after a restart or while the sink lags),
// which took the ratio from 0.35 (22,800–25,000 req/s, p99 7.6–9.1 ms) to 0.42 in the same
// session. Still short of 0.90: observe's spans and RED metrics, the key lookup, the
// per-request Accumulator and event, and the flusher's and the store's fsyncs on the same
// two cores.
package stackbench
