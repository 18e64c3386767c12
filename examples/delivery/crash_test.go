package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/pgsink"
)

// childEnv marks the test binary run as the example itself, so the crash campaign can kill
// a real process with SIGKILL.
const childEnv = "DELIVERY_RUN_AS_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// campaignKills is how many times the crash campaign kills the server: 10 in the test
// suite, more through TOLLGATE_CRASH_KILLS (benchmarks/scripts/crash-campaign).
func campaignKills(t *testing.T) int {
	if v := os.Getenv("TOLLGATE_CRASH_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "TOLLGATE_CRASH_KILLS")
		return n
	}
	return 10
}

// server is one life of the example as a child process.
type server struct {
	cmd  *exec.Cmd
	out  *obsBuffer
	done chan error
}

func startServer(t *testing.T, env []string) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=1"}, env...)...)
	s := &server{cmd: cmd, out: &obsBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	require.NoError(t, cmd.Start())
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-s.done; s.done <- nil })
	return s
}

// awaitReady polls /readyz until it answers 200 and returns how long that took.
func awaitReady(t *testing.T, base string, started time.Time, s *server) time.Duration {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			t.Fatalf("server exited during start-up: %v\n%s", err, s.out)
		default:
		}
		if resp, err := c.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(started)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("server not ready after 30s:\n%s", s.out)
	return 0
}

// outcome is what the client saw of one request: its Idempotency-Key and, when a complete
// response arrived, its status (0 when the connection failed or the body was cut off).
type outcome struct {
	consumer, key string
	status        int
	at            time.Time     // when the request was sent
	took          time.Duration // until the response was read, or the request failed
}

// load sends createDelivery calls from workers goroutines until stop is closed, each with a
// fresh Idempotency-Key, round-robin over the consumers' keys, and returns every outcome.
func load(base string, keys map[string]string, workers int, stop <-chan struct{}) []outcome {
	consumers := slices.Sorted(maps.Keys(keys))
	var (
		mu  sync.Mutex
		all []outcome
		wg  sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			var mine []outcome
			for n := 0; ; n++ {
				select {
				case <-stop:
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
					return
				default:
				}
				c := consumers[(w+n)%len(consumers)]
				o := outcome{consumer: c, key: fmt.Sprintf("load-%d-%d", w, n), at: time.Now()}
				req, _ := http.NewRequest(http.MethodPost, base+"/v1/deliveries", bytes.NewReader([]byte(obsDelivery)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-API-Key", keys[c])
				req.Header.Set("Idempotency-Key", o.key)
				if resp, err := client.Do(req); err == nil {
					if _, err := io.Copy(io.Discard, resp.Body); err == nil {
						o.status = resp.StatusCode
					}
					resp.Body.Close()
					o.took = time.Since(o.at)
				} else {
					o.took = time.Since(o.at)
					time.Sleep(2 * time.Millisecond) // the server is restarting
				}
				mine = append(mine, o)
			}
		})
	}
	wg.Wait()
	return all
}

// crashBackend is where the campaign's events end up.
type crashBackend struct {
	name string
	env  func(t *testing.T) []string
	// events reads every stored event per consumer after the last, graceful stop.
	events func(t *testing.T, dataDir string, db *pgxpool.Pool, consumers []string) map[string][]metering.Event
}

// TestCrashCampaign runs the example under load, kills it with SIGKILL at random instants,
// restarts it on the same data directory each time, and then checks the usage events
// against what the clients saw: every response a client received has its event (none
// lost), and every billable call has exactly one (none double-counted, whatever the spool
// replayed after each kill).
func TestCrashCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	for _, b := range []crashBackend{
		{
			name: "local store",
			env:  func(*testing.T) []string { return nil },
			events: func(t *testing.T, dataDir string, _ *pgxpool.Pool, _ []string) map[string][]metering.Event {
				store, err := metering.NewStore(metering.StoreConfig{Dir: filepath.Join(dataDir, "metering", "store")})
				require.NoError(t, err)
				defer store.Close()
				evs, err := store.Events(context.Background())
				require.NoError(t, err)
				by := map[string][]metering.Event{}
				for _, e := range evs {
					by[e.Consumer] = append(by[e.Consumer], e)
				}
				return by
			},
		},
		{
			name: "PostgreSQL",
			env: func(t *testing.T) []string {
				return []string{"DATABASE_URL=" + testSchema(t)}
			},
			events: func(t *testing.T, _ string, db *pgxpool.Pool, consumers []string) map[string][]metering.Event {
				sink, err := pgsink.New(pgsink.Config{Pool: db})
				require.NoError(t, err)
				by := map[string][]metering.Event{}
				for _, c := range consumers {
					by[c], err = sink.Events(context.Background(), c)
					require.NoError(t, err)
				}
				return by
			},
		},
	} {
		t.Run(b.name, func(t *testing.T) { runCrashCampaign(t, b) })
	}
}

func runCrashCampaign(t *testing.T, b crashBackend) {
	dataDir := t.TempDir()
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	env := append(b.env(t), "DATA_DIR="+dataDir, "PORT="+port, "SHUTDOWN_DRAIN_DELAY=0s",
		"TOLLGATE_KEY_SECRET=crash-campaign-secret-0123456789abcdef")
	getenv := func(k string) string {
		for _, kv := range env {
			if len(kv) > len(k) && kv[:len(k)] == k && kv[len(k)] == '=' {
				return kv[len(k)+1:]
			}
		}
		return ""
	}
	db := database(t, map[string]string{"DATABASE_URL": getenv("DATABASE_URL")})

	keys := campaignKeys(t, getenv, db)
	kills := campaignKills(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	stop := make(chan struct{})
	outcomes := make(chan []outcome, 1)
	var restarts []time.Duration
	started := time.Now()
	srv := startServer(t, env)
	awaitReady(t, base, started, srv)
	go func() { outcomes <- load(base, keys, 8, stop) }()
	for range kills {
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
		<-srv.done
		srv.done <- nil
		started = time.Now()
		srv = startServer(t, env)
		restarts = append(restarts, awaitReady(t, base, started, srv))
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	seen := <-outcomes

	// A graceful stop drains the spool into the sink.
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-srv.done:
		srv.done <- nil
		require.NoError(t, err, "%s", srv.out)
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit after SIGTERM:\n%s", srv.out)
	}

	stored := b.events(t, dataDir, db, slices.Sorted(maps.Keys(keys)))
	a := auditUsage(t, seen, stored)
	slices.Sort(restarts)
	t.Logf("crash campaign (%s): %d kills, %d requests, %d responses seen (%d billable), %d refused or cut off by a kill; "+
		"%d events stored; lost %d, double-billed %d, duplicate ids %d; restart to ready p50 %v, max %v",
		b.name, kills, len(seen), a.observed, a.billable, a.unobserved, a.events, a.lost, a.doubled, a.duplicates,
		restarts[len(restarts)/2].Round(time.Millisecond), restarts[len(restarts)-1].Round(time.Millisecond))
	a.assertExact(t)
	assert.Greater(t, a.billable, 10*kills, "the campaign made billable calls between the kills")
}

// campaignKeys issues keys for 16 consumers in the store the server will open (DATA_DIR or
// db), on a plan whose daily quota a campaign cannot reach, so most calls are billable;
// the per-consumer rate still refuses some, and those must be metered too.
func campaignKeys(t *testing.T, getenv func(string) string, db *pgxpool.Pool) map[string]string {
	t.Helper()
	ctx := context.Background()
	authn, closeKeys, err := newAuth(ctx, getenv, db, io.Discard, nil)
	require.NoError(t, err)
	defer closeKeys()
	keys := map[string]string{}
	for i := range 16 {
		c := fmt.Sprintf("load-%02d", i)
		issued, err := authn.Keys().Create(ctx, auth.KeySpec{Consumer: c, Plan: "growth", Scopes: []string{scopeRead, scopeWrite}})
		require.NoError(t, err)
		keys[c] = issued.Key.Reveal()
	}
	return keys
}

// usageAudit compares the usage events stored with the responses the clients saw.
type usageAudit struct {
	observed   int // complete responses, each of which must have its event
	billable   int // of those, successful calls, each billed exactly once
	refused    int // 503s from a saturated meter: refused before running, not metered
	unobserved int // requests with no complete response
	events     int // distinct events stored
	lost       int // responses with no event
	doubled    int // billable calls billed other than once
	duplicates int // event ids stored more than once
}

func auditUsage(t *testing.T, seen []outcome, stored map[string][]metering.Event) usageAudit {
	t.Helper()
	var a usageAudit
	byKey := map[string][]metering.Event{}
	ids := map[metering.ID]bool{}
	for _, evs := range stored {
		for _, e := range evs {
			if ids[e.ID] {
				a.duplicates++
			}
			ids[e.ID] = true
			byKey[e.IdempotencyKey] = append(byKey[e.IdempotencyKey], e)
		}
	}
	a.events = len(ids)
	for _, o := range seen {
		switch {
		case o.status == 0:
			a.unobserved++
			continue
		case o.status == http.StatusServiceUnavailable:
			a.refused++
			continue
		}
		a.observed++
		evs := byKey[o.key]
		if len(evs) == 0 {
			a.lost++
			t.Errorf("%s: response %d for %s has no usage event", o.consumer, o.status, o.key)
			continue
		}
		if o.status < 400 {
			a.billable++
			n := 0
			for _, e := range evs {
				if e.Units["deliveries"] > 0 {
					n++
				}
			}
			if n != 1 {
				a.doubled++
				t.Errorf("%s: billable call %s has %d billed events", o.consumer, o.key, n)
			}
		}
	}
	return a
}

func (a usageAudit) assertExact(t *testing.T) {
	t.Helper()
	assert.Zero(t, a.lost, "usage events lost")
	assert.Zero(t, a.doubled, "billable calls billed other than once")
	assert.Zero(t, a.duplicates, "events stored twice")
}

// freePort returns a loopback port nothing listens on, so each restart binds the same one.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	return port
}
