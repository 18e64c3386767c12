package awslambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/awslambda"
	"github.com/tollgate-dev/tollgate/metering"
)

// TestHelperFunction is the Lambda function the runtime tests start as a process: the real
// lambda.Start loop, a meter spooling under DATA_DIR, and a flush before every response.
// It does nothing in a normal test run.
func TestHelperFunction(t *testing.T) {
	mode := os.Getenv("AWSLAMBDA_TEST_FUNCTION")
	if mode == "" {
		t.Skip("started by the runtime tests only")
	}
	if mode == "hello" {
		lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
		return
	}
	meter, err := metering.New(metering.Config{Dir: os.Getenv("DATA_DIR")})
	if err != nil {
		panic(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := meter.Record(r.Context(), metering.Event{Consumer: "acme", Operation: "call", Status: 200, Units: map[string]int64{"calls": 1}}); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok " + r.URL.Query().Get("n")))
	})
	fn := awslambda.New(h, awslambda.Config{AfterInvoke: meter.Flush})
	lambda.Start(fn.Invoke)
}

// runtimeAPI is the Lambda Runtime API on loopback: it hands out invocations and collects
// responses, as the Lambda service does for a function's process.
type runtimeAPI struct {
	*httptest.Server
	events  chan invocation
	mu      sync.Mutex
	answers map[string]events.APIGatewayV2HTTPResponse
	onReply func(id string)
	polled  chan time.Time
}

type invocation struct {
	id    string
	event []byte
}

func newRuntimeAPI(t *testing.T) *runtimeAPI {
	rt := &runtimeAPI{events: make(chan invocation, 2000), answers: map[string]events.APIGatewayV2HTTPResponse{}, polled: make(chan time.Time, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case rt.polled <- time.Now():
		default:
		}
		select {
		case inv := <-rt.events:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(30*time.Second).UnixMilli()))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-2:123456789012:function:delivery")
			_, _ = w.Write(inv.event)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		var resp events.APIGatewayV2HTTPResponse
		_ = json.NewDecoder(r.Body).Decode(&resp)
		id := r.PathValue("id")
		rt.mu.Lock()
		rt.answers[id] = resp
		rt.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		if rt.onReply != nil {
			rt.onReply(id)
		}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("invocation %s failed", r.PathValue("id"))
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, _ *http.Request) {
		t.Error("init failed")
		w.WriteHeader(http.StatusAccepted)
	})
	rt.Server = httptest.NewServer(mux)
	t.Cleanup(rt.Close)
	return rt
}

func (rt *runtimeAPI) replied() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.answers)
}

func startFunction(t *testing.T, rt *runtimeAPI, mode, dataDir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFunction$")
	cmd.Env = append(os.Environ(), "AWSLAMBDA_TEST_FUNCTION="+mode, "DATA_DIR="+dataDir,
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(rt.URL, "http://"))
	require.NoError(t, cmd.Start())
	return cmd
}

func v2Event(n int) []byte {
	b, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/call", RawQueryString: fmt.Sprintf("n=%d", n),
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", SourceIP: "1.2.3.4"}},
	})
	return b
}

// TestFreezeLosesNothing runs invocations through the real lambda.Start loop and kills
// the process right after a response, at random points, then starts it again on the same
// /tmp directory, as Lambda does after a sandbox is frozen and reclaimed: every answered
// invocation's usage event is there at the end, and none twice.
func TestFreezeLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const invocations, kills = 400, 8
	dir := t.TempDir()
	rt := newRuntimeAPI(t)
	for i := range invocations {
		rt.events <- invocation{id: fmt.Sprintf("req-%04d", i), event: v2Event(i)}
	}
	killAt := map[int]bool{}
	r := rand.New(rand.NewPCG(7, 11))
	for len(killAt) < kills {
		killAt[1+r.IntN(invocations-1)] = true
	}
	var (
		mu      sync.Mutex
		current *exec.Cmd
		killed  = make(chan struct{}, invocations)
	)
	rt.onReply = func(string) {
		if n := rt.replied(); killAt[n] {
			mu.Lock()
			_ = current.Process.Kill() // frozen and reclaimed right after answering
			mu.Unlock()
			killed <- struct{}{}
		}
	}
	restarts := 0
	for rt.replied() < invocations {
		mu.Lock()
		current = startFunction(t, rt, "metered", dir)
		cmd := current
		mu.Unlock()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-killed:
			<-done
			restarts++
		case <-time.After(60 * time.Second):
			t.Fatalf("stuck at %d of %d answers", rt.replied(), invocations)
		case <-func() chan struct{} {
			c := make(chan struct{})
			go func() {
				for rt.replied() < invocations {
					time.Sleep(5 * time.Millisecond)
				}
				close(c)
			}()
			return c
		}():
			_ = cmd.Process.Kill()
			<-done
		}
	}
	assert.Equal(t, kills, restarts)
	for id, resp := range rt.answers {
		require.Equal(t, http.StatusOK, resp.StatusCode, id)
	}

	// A cold start after the last freeze replays the spool; count what was recorded.
	meter, err := metering.New(metering.Config{Dir: dir})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, meter.Sync(ctx))
	rows, err := meter.Usage().Usage(ctx, metering.UsageQuery{Consumer: "acme", Window: metering.Month, From: time.Now().AddDate(0, -1, 0)})
	require.NoError(t, err)
	require.NoError(t, meter.Close(ctx))
	assert.EqualValues(t, invocations, metering.Total(rows)["calls"], "every answered invocation metered exactly once across %d freezes", kills)
}

// TestColdStart compares the time from process start to the first poll of the Runtime API:
// the metered function against a hello-world function, built the same way.
func TestColdStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	measure := func(mode string) time.Duration {
		var best time.Duration
		for range 5 {
			rt := newRuntimeAPI(t)
			start := time.Now()
			cmd := startFunction(t, rt, mode, t.TempDir())
			polled := <-rt.polled
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if d := polled.Sub(start); best == 0 || d < best {
				best = d
			}
		}
		return best
	}
	hello, metered := measure("hello"), measure("metered")
	t.Logf("cold start to first poll, best of 5: hello %v, metered %v (+%v, %.2fx)", hello, metered, metered-hello, float64(metered)/float64(hello))
	assert.Less(t, metered-hello, 250*time.Millisecond, "no network I/O or heavy work at init")
}
