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
//	bare huma    63,000–64,000 req/s   p50 0.24 ms   p99 1.2–1.3 ms
//	full stack   20,000–21,500 req/s   p50 0.61 ms   p99 9.7–11.7 ms
//	full/bare    0.33
//
// Saturating one core, the stack's per-request work shows fully: a CPU profile of
// BenchmarkFullStack puts observe's handler at about 13% of samples, and metering's
// delivery lane, which reads each event back from the spool and decodes its JSON for the
// local store, at about 12%. Delivering spooled events to a sink without re-decoding them is
// the first thing to cut.
package stackbench
