package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/pgsink"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// chaosPhase is how long each phase of the chaos campaign lasts, and chaosOutage how long
// the usage database stays away: seconds in the test suite, minutes through
// TOLLGATE_CHAOS_PHASE and TOLLGATE_CHAOS_OUTAGE (benchmarks/scripts/chaos-campaign).
func chaosDurations(t *testing.T) (phase, outage time.Duration) {
	phase, outage = 1500*time.Millisecond, 3*time.Second
	for name, d := range map[string]*time.Duration{"TOLLGATE_CHAOS_PHASE": &phase, "TOLLGATE_CHAOS_OUTAGE": &outage} {
		if v := os.Getenv(name); v != "" {
			var err error
			*d, err = time.ParseDuration(v)
			require.NoError(t, err, name)
		}
	}
	return phase, outage
}

// chaosProxy starts a toxiproxy proxy to upstream on a free loopback port.
func chaosProxy(t *testing.T, name, upstream string) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	require.NoError(t, p.Start())
	t.Cleanup(p.Stop)
	return p
}

// phaseStats summarises the outcomes of requests sent within one phase.
type phaseStats struct {
	name     string
	requests int
	perSec   float64
	statuses map[int]int
	p50, p99 time.Duration
	slowest  time.Duration
}

func (p phaseStats) String() string {
	codes := slices.Sorted(maps.Keys(p.statuses))
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", p.statuses[c], c))
	}
	return fmt.Sprintf("%-16s %6.0f req/s  p50 %-8v p99 %-8v max %-8v %s", p.name, p.perSec,
		p.p50.Round(time.Millisecond/10), p.p99.Round(time.Millisecond/10), p.slowest.Round(time.Millisecond/10), strings.Join(parts, " "))
}

func phaseOf(name string, seen []outcome, from, to time.Time) phaseStats {
	s := phaseStats{name: name, statuses: map[int]int{}}
	var took []time.Duration
	for _, o := range seen {
		if o.at.Before(from) || !o.at.Before(to) {
			continue
		}
		s.requests++
		s.statuses[o.status]++
		took = append(took, o.took)
	}
	if len(took) > 0 {
		slices.Sort(took)
		s.p50, s.p99, s.slowest = took[len(took)/2], took[len(took)*99/100], took[len(took)-1]
		s.perSec = float64(s.requests) / to.Sub(from).Seconds()
	}
	return s
}

// TestChaosCampaign runs the example with its limits in Redis and its usage events in
// PostgreSQL, each behind a toxiproxy, under load from 8 workers and 16 consumers, and
// breaks them in turn:
//
//   - Redis killed: limits are kept in process (LocalFallback), every call gets 201 or 429,
//     never a 5xx; once Redis is back the decisions are made there again;
//   - Redis slowed by 500 ms: each decision gives up at its 100 ms timeout, so no call
//     waits for the latency;
//   - the usage database away: events pile up in the spool to METERING_SPOOL_BYTES, then
//     metered calls are refused with 503 and Retry-After; after recovery the backlog drains
//     and calls are served again.
//
// Then every response a client received is matched to its usage event: none lost, none
// billed twice.
func TestChaosCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("a campaign of several seconds")
	}
	phase, outage := chaosDurations(t)
	redisAddr := tollgatetest.RedisAddr(t)
	usageURL := testSchema(t)
	u, err := url.Parse(usageURL)
	require.NoError(t, err)
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	redisProxy := chaosProxy(t, "redis-"+id, redisAddr)
	pgProxy := chaosProxy(t, "usage-"+id, u.Host)
	u.Host = pgProxy.Listen
	prefix := "chaos-" + id + ":"

	env := map[string]string{
		"DATA_DIR":             t.TempDir(),
		"REDIS_URL":            "redis://" + redisProxy.Listen + "/0",
		"RATELIMIT_PREFIX":     prefix,
		"USAGE_DATABASE_URL":   u.String(),
		"METERING_SPOOL_BYTES": "131072", // a few hundred events, reached within the outage
		"SHUTDOWN_DRAIN_DELAY": "0s",
	}
	getenv := func(k string) string { return env[k] }
	keys := campaignKeys(t, getenv, nil)
	rn := obsStart(t, env)

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { _ = rdb.Close() })
	limitKeys := func() int {
		n := 0
		iter := rdb.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
		for iter.Next(context.Background()) {
			n++
		}
		require.NoError(t, iter.Err())
		return n
	}

	stop := make(chan struct{})
	outcomes := make(chan []outcome, 1)
	go func() { outcomes <- load(rn.base, keys, 8, stop) }()
	marks := []time.Time{time.Now()}
	mark := func() { marks = append(marks, time.Now()) }

	time.Sleep(phase) // baseline
	require.Positive(t, limitKeys(), "limits are kept in Redis")
	mark()
	redisProxy.Stop()
	time.Sleep(phase) // Redis gone
	// Clear Redis behind the proxy: keys that appear now were written after the recovery.
	if err := rdb.Eval(context.Background(),
		`for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end`, nil, prefix+"*").Err(); err != redis.Nil {
		require.NoError(t, err)
	}
	mark()
	require.NoError(t, redisProxy.Start())
	require.Eventually(t, func() bool { return limitKeys() > 0 }, 5*time.Second, 10*time.Millisecond,
		"decisions are made in Redis again once it is back")
	resumed := time.Since(marks[len(marks)-1])
	time.Sleep(phase) // Redis back
	mark()
	_, err = redisProxy.Toxics.AddToxicJson(strings.NewReader(
		`{"name":"slow","type":"latency","stream":"downstream","attributes":{"latency":500}}`))
	require.NoError(t, err)
	time.Sleep(phase) // Redis slow
	require.NoError(t, redisProxy.Toxics.RemoveToxic(context.Background(), "slow"))
	mark()
	pgProxy.Stop()
	time.Sleep(outage) // usage database gone
	mark()
	require.NoError(t, pgProxy.Start())
	// Recovered once a metered call is served again (a 429 counts: the meter took it).
	probe := &http.Client{Timeout: 5 * time.Second}
	var recovered time.Duration
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, rn.base+"/v1/deliveries", nil)
		req.Header.Set("X-API-Key", rn.key)
		resp, err := probe.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		recovered = time.Since(marks[len(marks)-1])
		return resp.StatusCode != http.StatusServiceUnavailable
	}, 90*time.Second, 20*time.Millisecond, "metered calls are served again after the usage database returns")
	time.Sleep(phase) // after recovery
	mark()
	close(stop)
	seen := <-outcomes
	require.NoError(t, rn.stop(t, 90*time.Second), "the spool drains at shutdown")

	names := []string{"baseline", "redis down", "redis back", "redis +500ms", "usage db down", "usage db back"}
	stats := map[string]phaseStats{}
	for i, name := range names {
		stats[name] = phaseOf(name, seen, marks[i], marks[i+1])
	}
	db, err := pgxpool.New(context.Background(), usageURL)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	sink, err := pgsink.New(pgsink.Config{Pool: db})
	require.NoError(t, err)
	stored := map[string][]metering.Event{}
	for c := range keys {
		stored[c], err = sink.Events(context.Background(), c)
		require.NoError(t, err)
	}
	a := auditUsage(t, seen, stored)

	var report strings.Builder
	for _, name := range names {
		fmt.Fprintln(&report, "  "+stats[name].String())
	}
	t.Logf("chaos campaign (phases of %v, usage database away %v):\n%s"+
		"  %d responses (%d billable), %d refused with 503 while the spool was full; %d events stored; lost %d, "+
		"double-billed %d, duplicate ids %d; limits back in Redis after %v; metered calls served again %v after the usage database returned",
		phase, outage, report.String(), a.observed, a.billable, a.refused, a.events, a.lost, a.doubled, a.duplicates,
		resumed.Round(time.Millisecond), recovered.Round(time.Millisecond))

	a.assertExact(t)
	assert.Zero(t, a.unobserved, "every request got a complete response")
	for _, name := range names[:4] {
		s := stats[name]
		require.Positive(t, s.requests, name)
		for code, n := range s.statuses {
			assert.Contains(t, []int{http.StatusCreated, http.StatusTooManyRequests}, code,
				"%s: %d responses with status %d", name, n, code)
		}
	}
	assert.Less(t, stats["redis +500ms"].slowest, 450*time.Millisecond,
		"each limit decision gives up at its 100 ms timeout instead of waiting out the latency")
	down := stats["usage db down"]
	assert.Positive(t, down.statuses[http.StatusServiceUnavailable], "metered calls are refused once the spool is full")
	for code, n := range down.statuses {
		assert.Contains(t, []int{http.StatusCreated, http.StatusTooManyRequests, http.StatusServiceUnavailable}, code,
			"usage db down: %d responses with status %d", n, code)
	}
	assert.Positive(t, stats["usage db back"].statuses[http.StatusCreated], "billable calls resume")
}
