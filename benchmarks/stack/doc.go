// Package stackbench measures what a user runs: one trivial huma operation served bare and
// behind the README's whole composition (observe with RED metrics and tracing, API-key
// auth, metering spooled to disk, an in-process limit that never rejects).
//
//	go -C benchmarks test -run '^$' -bench FullStack -benchtime 5000x -count 2 ./stack/
//	go -C benchmarks test -run '^$' -bench Layers -benchtime 100000x ./stack/
//	benchmarks/scripts/fullstack-wrk [-sampled]
//	LAYERS="observe observe,auth observe,auth,meter observe,auth,spool observe,auth,spool,limit" \
//	  benchmarks/scripts/fullstack-wrk
//
// # One client, loopback HTTP
//
// BenchmarkFullStack sends one request to each server per iteration, interleaved, with
// client and servers sharing a 2-core amd64 VM. Four runs:
//
//	tracing     full / bare mean latency   bare p50 / p99    full p50 / p99
//	unsampled   1.29–1.37                  32–50 µs / 166–230   43–67 µs / 231–292
//	sampled     1.43–1.51                  33–35 µs / 173–229   47–52 µs / 251–298
//
// The stack adds about 11 µs at the median (15 µs sampled) to a request that takes 33 µs
// bare, most of which is the client and the loopback.
//
// # Whole process, one core
//
// fullstack-wrk pins stackserver to CPU 0 and wrk to CPU 1, so the server's one core is
// saturated and every microsecond of the stack's work shows. Runs on one machine, each
// with rounds alternating bare and full:
//
//	full/bare req/s, unsampled   0.41–0.53   (the code before the changes below: 0.39–0.40)
//	full/bare req/s, sampled     0.36–0.39   (p99 19–27 ms, against 3–6 ms unsampled; not
//	                                          the GC, which ran 14 times a second at 1% CPU)
//	bare                         38,000–52,000 req/s
//	full                         17,000–25,000 req/s, p99 3.3–5.6 ms in 17 of 18 rounds
//	                             (9.9 ms in one); before the changes 6.2–8.0 ms
//
// The timings of this VM swing by up to 1.5× from one run to the next, so read ranges,
// not digits. LAYERS shows each layer's step; two runs gave observe 0.77–0.94, +auth
// 0.74–0.79, +metering in memory 0.58–0.68, spooled 0.57–0.59, +the limiter 0.47–0.51.
// In process on one core (BenchmarkLayers -cpu 1), allocations per request go 18 bare, 23
// with observe, 24 with auth, 28 with metering and 34 with the limiter (54 before the
// changes below).
//
// # Where the time goes
//
// A CPU profile of stackserver under wrk (-cpuprofile) at about 22,000 req/s puts roughly
// 45 µs of CPU on each request: 14 µs in the response's write system call, 3–4 µs reading
// the request, 4.4 µs in huma's own handler, and for the stack about 2.2 µs in observe (a
// span, two OTel metric instruments), 1.1 µs in auth, 1.7 µs in the metering middleware,
// 1.8 µs in the limiter, and 1.5–3 µs per event in metering's flusher and delivery lane
// (encoding, spool and store writes, fsyncs). Bare huma's request costs about 22 µs, of
// which 6–7 µs is the write.
//
// That write is the surprise: measured layer by layer, the same write system call costs
// 6.9 µs per response behind bare huma and 13.3 µs behind the full stack (stackserver
// -cpuprofile, net/http's checkConnErrorWriter.Write per request served), though the
// response is only about 150 bytes larger. The likely
// cause is the kernel waking the client's idle thread on the other CPU for each response
// once the server is the slower side; whatever the cause, each microsecond of user-space
// work costs more than a microsecond of throughput here.
//
// What was cut after profiling, in the order found:
//
//   - metering re-encoded each event into a fresh buffer and grew a frame buffer from nil
//     per batch: now reused buffers, 9.8 KB → 3.7 KB allocated per request (BenchmarkLayers).
//   - each acknowledgement of a spooled batch created, fsynced and renamed an ack file, a
//     third of the delivery lane's CPU: now 12 bytes overwritten in place.
//   - the limiter built a scratch http.Header and an http.Request per call, and its
//     built-in key functions made strings only to concatenate them: 20 → 6 allocations
//     per request, 0.72–0.82× httprate's time (benchmarks/ratelimit, BenchmarkMiddleware).
//   - metering and auth each wrapped the huma context twice (context.WithValue and
//     huma.WithContext) and metering allocated its accumulator and counters apart: one
//     allocation each now.
//
// The 0.90× goal is missed. What remains is spread over the four layers, each already
// within reach of its peer (observe at 0.17× otelhttp's overhead, the limiter on par with
// httprate, metering's sinks at 0.86–0.93× raw clients), against a bare request that does
// almost nothing: 0.90× would leave the whole stack about 2.5 µs per request, about what
// observe's one span and two metric records cost in the OTel SDK alone.
package stackbench
