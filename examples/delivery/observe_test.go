package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/openapitest"
)

// obsRun is the example running in-process on a free port, its stdout captured.
type obsRun struct {
	base   string
	key    string // the demo API key the example printed
	out    *obsBuffer
	cancel context.CancelFunc
	done   chan error
}

// obsStart runs the example with env (PORT=0 added) and waits for its "serving" log line,
// which carries the address it bound.
func obsStart(t *testing.T, env map[string]string) *obsRun {
	t.Helper()
	env["PORT"] = "0"
	if env["DATA_DIR"] == "" {
		env["DATA_DIR"] = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &obsRun{out: &obsBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { rn.done <- run(ctx, func(k string) string { return env[k] }, rn.out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-rn.done:
		case <-time.After(30 * time.Second):
			t.Error("run did not return")
		}
	})
	var addr string
	require.Eventually(t, func() bool {
		for _, l := range rn.out.lines(t) {
			if l["msg"] == "serving" {
				addr, _ = l["addr"].(string)
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "no serving line: %s", rn.out)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	rn.base = "http://127.0.0.1:" + port
	m := demoKeyLine.FindStringSubmatch(rn.out.String())
	require.NotNil(t, m, "stdout has the demo key line: %s", rn.out)
	rn.key = m[1]
	return rn
}

// awaitUnready waits, at most within, for /readyz to answer 503.
func (rn *obsRun) awaitUnready(t *testing.T, within time.Duration, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := obsClient.Get(rn.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, within, time.Millisecond, msg)
}

// stop cancels run (what SIGTERM does in main) and returns its result.
func (rn *obsRun) stop(t *testing.T, budget time.Duration) error {
	t.Helper()
	rn.cancel()
	select {
	case err := <-rn.done:
		rn.done <- err // for Cleanup
		return err
	case <-time.After(budget):
		t.Fatalf("run did not return within %v", budget)
		return nil
	}
}

var obsClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func obsGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := obsClient.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// checkedClient is obsClient with every exchange checked against the OpenAPI document
// the server at base serves.
func checkedClient(t *testing.T, base string) *http.Client {
	t.Helper()
	code, doc := obsGet(t, base+"/openapi.json")
	require.Equal(t, http.StatusOK, code)
	return &http.Client{Transport: openapitest.Transport(t, obsClient.Transport, []byte(doc)), Timeout: obsClient.Timeout}
}

const obsDelivery = `{"pickup":{"line1":"1 Depot Way","city":"Leeds","postal_code":"LS1 1AA","country":"GB"},` +
	`"dropoff":{"line1":"12 Market Street","city":"Leeds","postal_code":"LS1 6DT","country":"GB"},` +
	`"recipient_phone":"+447700900123","items":[{"sku":"MILK-2L","quantity":2}]}`

// TestObservedEndpoints is the curl session of a newcomer: probes, metrics, the OpenAPI
// description and docs answer, and a request's span shares its trace id with its log line.
func TestObservedEndpoints(t *testing.T) {
	t.Parallel()
	rn := obsStart(t, map[string]string{"TRACE_STDOUT": "true", "SHUTDOWN_DRAIN_DELAY": "0"})

	req, err := http.NewRequest(http.MethodPost, rn.base+"/v1/deliveries", strings.NewReader(obsDelivery))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", rn.key)
	resp, err := checkedClient(t, rn.base).Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	requestID := resp.Header.Get("X-Request-ID")
	require.NotEmpty(t, requestID)

	for _, c := range []struct{ path, want string }{
		{"/livez", "ok"},
		{"/readyz", "ok"},
		{"/openapi.json", `"operationId":"createDelivery"`},
		{"/docs", "<html"},
		{"/metrics", `http_server_requests_total{operation="createDelivery"`},
	} {
		code, body := obsGet(t, rn.base+c.path)
		assert.Equal(t, http.StatusOK, code, c.path)
		assert.Contains(t, body, c.want, c.path)
	}
	code, body := obsGet(t, rn.base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `status_class="2xx"`)
	assert.NotContains(t, body, "/v1/deliveries", "raw paths never label metrics")
	assert.NotContains(t, body, `operation="GET /livez"`, "probes are not instrumented")

	require.NoError(t, rn.stop(t, 30*time.Second)) // flushes the batched spans

	var span, access map[string]any
	for _, l := range rn.out.lines(t) {
		if l["Name"] == "createDelivery" {
			span = l
		}
		if l["msg"] == "request" && l["operation"] == "createDelivery" {
			access = l
		}
	}
	require.NotNil(t, span, "span on stdout: %s", rn.out)
	require.NotNil(t, access, "log line on stdout: %s", rn.out)
	traceID := span["SpanContext"].(map[string]any)["TraceID"]
	assert.Regexp(t, "^[0-9a-f]{32}$", traceID)
	assert.Equal(t, traceID, access["trace_id"])
	assert.Equal(t, requestID, access["request_id"])
	assert.EqualValues(t, 201, access["status"])
}

// TestSIGTERMDuringSlowRequest cancels run's context (SIGTERM in main) while a client is
// still uploading a request body: readiness turns 503 at once, the listener closes, the
// request still completes, and run returns nil within the budget.
func TestSIGTERMDuringSlowRequest(t *testing.T) {
	t.Parallel()
	const drain = time.Second
	rn := obsStart(t, map[string]string{"SHUTDOWN_DRAIN_DELAY": drain.String()})
	code, _ := obsGet(t, rn.base+"/readyz")
	require.Equal(t, http.StatusOK, code)

	body, upload := io.Pipe()
	sent := make(chan struct{})
	trace := &httptrace.ClientTrace{WroteHeaders: func() { close(sent) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, rn.base+"/v1/deliveries", body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", rn.key)
	type result struct {
		code int
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := obsClient.Do(req)
		if err != nil {
			slow <- result{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		slow <- result{code: resp.StatusCode}
	}()
	<-sent
	_, err = upload.Write([]byte(obsDelivery[:40]))
	require.NoError(t, err)

	stopping := time.Now()
	rn.cancel() // SIGTERM
	rn.awaitUnready(t, drain, "readiness must turn 503 while still serving")
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(rn.base, "http://"), time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	}, 10*time.Second, 5*time.Millisecond, "the listener closes after the drain delay")

	_, err = upload.Write([]byte(obsDelivery[40:]))
	require.NoError(t, err)
	require.NoError(t, upload.Close())
	res := <-slow
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusCreated, res.code, "the in-flight request completes")

	require.NoError(t, rn.stop(t, 30*time.Second))
	assert.Less(t, time.Since(stopping), 30*time.Second)
	var steps []string
	for _, l := range rn.out.lines(t) {
		if m, _ := l["msg"].(string); m == "draining" || m == "shutting down" || m == "flushing" {
			steps = append(steps, m)
		}
	}
	assert.Equal(t, []string{"draining", "shutting down", "flushing"}, steps)
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, "8080", cfg.Port)
	assert.Zero(t, cfg.Observe.DrainDelay, "the observe default applies")
	for _, env := range []map[string]string{{"TRACE_STDOUT": "maybe"}, {"SHUTDOWN_DRAIN_DELAY": "5"}} {
		_, err := loadConfig(func(k string) string { return env[k] })
		assert.Error(t, err, env)
		assert.Error(t, run(context.Background(), func(k string) string { return env[k] }, io.Discard))
	}
}

// obsBuffer is a stdout that tests can read while run writes to it.
type obsBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *obsBuffer) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *obsBuffer) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// demoKeyLine is the one stdout line that is not JSON: the local demo key.
var demoKeyLine = regexp.MustCompile(`(?m)^demo API key: (\S+)$`)

// lines decodes every complete line; stdout holds only JSON (logs and spans) and the demo
// key line.
func (o *obsBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(o.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if demoKeyLine.Match(sc.Bytes()) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("stdout line is not JSON: %q: %v", sc.Text(), err)
			continue
		}
		out = append(out, m)
	}
	return out
}
