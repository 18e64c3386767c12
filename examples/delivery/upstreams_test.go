package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/clients"
	"github.com/tollgate-dev/tollgate/examples/delivery/deliveries"
	"github.com/tollgate-dev/tollgate/openapitest"
)

// fast shortens the clients' waits so that failure tests take milliseconds.
func fast(cfg *clients.Config) {
	cfg.Retry.BaseDelay, cfg.Retry.MaxDelay = time.Millisecond, 2*time.Millisecond
	cfg.Breaker.OpenFor = 100 * time.Millisecond
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func newDeliveryAPI(t *testing.T, vars map[string]string) (humatest.TestAPI, *upstreams) {
	t.Helper()
	up, err := startUpstreams(env(vars), slog.New(slog.DiscardHandler), fast)
	require.NoError(t, err)
	t.Cleanup(up.Close)
	_, api := humatest.New(t)
	deliveries.Register(api, &deliveries.Service{Store: deliveries.NewStore(nil), Payments: up.Payments, SMS: up.SMS}, deliveries.Policy{})
	return openapitest.Wrap(t, api), up
}

func statsOf(t *testing.T, sb *sandbox) sandboxStats {
	t.Helper()
	resp, err := http.Get(sb.url + "/sandbox/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var s sandboxStats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	return s
}

func setFailure(t *testing.T, sb *sandbox, mode failureMode, count int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/sandbox/failure?mode=%s&count=%d", sb.url, mode, count), nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func TestCreatingADeliveryChargesAndTexts(t *testing.T) {
	t.Parallel()
	api, up := newDeliveryAPI(t, nil)
	require.Len(t, up.sandboxes, 2)
	payments, sms := up.sandboxes[0], up.sandboxes[1]

	resp := api.Post("/deliveries", "Idempotency-Key: order-1", newDelivery)
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	p, s := statsOf(t, payments), statsOf(t, sms)
	assert.Equal(t, 1, p.Created)
	assert.Equal(t, map[string]int{"order-1": 1}, p.ByKey, "the charge carries the caller's key")
	assert.Equal(t, 1, s.Created)

	// The payment provider drops the next two connections: the charge is retried under
	// the same key and taken once.
	setFailure(t, payments, failureReset, 2)
	resp = api.Post("/deliveries", "Idempotency-Key: order-2", newDelivery)
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	p = statsOf(t, payments)
	assert.Equal(t, 2, p.Created, "charged once")
	assert.Equal(t, 3, p.ByKey["order-2"], "retried under the same key")
}

func TestPaymentOutageOpensTheBreaker(t *testing.T) {
	t.Parallel()
	api, up := newDeliveryAPI(t, map[string]string{"SANDBOX_FAIL": "payments"})
	payments := up.sandboxes[0]
	for range clients.DefaultBreakerFailures {
		resp := api.Post("/deliveries", newDelivery)
		// 502 while retries are tried; 503 with Retry-After once the outage has spent
		// the retry budget and a retry was wanted but not made.
		require.Contains(t, []int{http.StatusBadGateway, http.StatusServiceUnavailable}, resp.Code, resp.Body.String())
		assert.NotContains(t, resp.Body.String(), "provider answered", "the upstream's answer stays in the log")
		assert.NotContains(t, resp.Body.String(), "127.0.0.1", "so does its address")
	}
	before := statsOf(t, payments).Requests
	resp := api.Post("/deliveries", newDelivery)
	require.Equal(t, http.StatusServiceUnavailable, resp.Code, "an open breaker is a temporary outage")
	assert.NotEmpty(t, resp.Header().Get("Retry-After"))
	assert.Equal(t, before, statsOf(t, payments).Requests, "the open breaker spares the provider")

	setFailure(t, payments, failureNone, 0)
	require.Eventually(t, func() bool {
		return api.Post("/deliveries", newDelivery).Code == http.StatusCreated
	}, 10*time.Second, 20*time.Millisecond, "a probe closes the breaker once the provider is back")
}

func TestSMSOutageDoesNotFailDeliveries(t *testing.T) {
	t.Parallel()
	api, up := newDeliveryAPI(t, map[string]string{"SANDBOX_FAIL": "sms"})
	for range clients.DefaultBreakerFailures + 3 {
		resp := api.Post("/deliveries", newDelivery)
		require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	}
	assert.Equal(t, clients.StateOpen, up.SMS.c.BreakerState(up.sandboxes[1].url[len("http://"):]))
	assert.Equal(t, 0, statsOf(t, up.sandboxes[1]).Created)
}

func TestConfiguredUpstreamURLs(t *testing.T) {
	t.Parallel()
	var charges atomic.Int64
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		charges.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"ch_real","status":"succeeded"}`)
	}))
	defer provider.Close()
	api, up := newDeliveryAPI(t, map[string]string{"PAYMENTS_URL": provider.URL})
	require.Len(t, up.sandboxes, 1, "only the SMS provider is a sandbox")
	resp := api.Post("/deliveries", newDelivery)
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	assert.EqualValues(t, 1, charges.Load())
}

func TestSandboxIdempotency(t *testing.T) {
	t.Parallel()
	sb := newPaymentsSandbox()
	require.NoError(t, sb.start())
	defer sb.close()
	post := func(key, body string) (int, string, http.Header) {
		req, _ := http.NewRequest(http.MethodPost, sb.url+"/v1/charges", strings.NewReader(body))
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	charge := `{"amount":499,"currency":"GBP","customer":"demo","reference":"dlv_1"}`
	status, first, _ := post("k1", charge)
	require.Equal(t, http.StatusCreated, status, first)
	status, again, h := post("k1", charge)
	assert.Equal(t, http.StatusCreated, status)
	assert.Equal(t, first, again, "a repeated key replays the first answer")
	assert.Equal(t, "true", h.Get("Idempotent-Replayed"))
	status, _, _ = post("k1", `{"amount":999,"currency":"GBP"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "a key reused for another charge is refused")
	status, _, _ = post("", charge)
	assert.Equal(t, http.StatusBadRequest, status, "a charge without a key is refused")
	assert.Equal(t, 1, statsOf(t, sb).Created)
}
