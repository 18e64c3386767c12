package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/billing/webhooks"
	"github.com/tollgate-dev/tollgate/clients"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// receiver is an endpoint that verifies every request as a real receiver would and
// records the webhook ids it accepted; fail makes it answer 503.
type receiver struct {
	*httptest.Server
	secret webhooks.Secret
	fail   atomic.Bool
	mu     sync.Mutex
	got    []string
	types  []string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	s, err := webhooks.NewSecret()
	require.NoError(t, err)
	r := &receiver{secret: s}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id, err := webhooks.Verify(req.Header, body, time.Now(), 0, r.secret)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if r.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var p struct{ Type string }
		_ = json.Unmarshal(body, &p)
		r.mu.Lock()
		r.got = append(r.got, id)
		r.types = append(r.types, p.Type)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// loopbackClient keeps the SSRF guard on, allowing only loopback, where the receivers run.
func loopbackClient(t *testing.T) *http.Client {
	t.Helper()
	c, err := clients.New(clients.Config{
		Name: "webhooks", Guard: &clients.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Retry: clients.RetryConfig{MaxAttempts: 1},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c.HTTPClient()
}

func event(id string, at time.Time) billing.Event {
	return billing.Event{ID: id, Type: billing.EventInvoiceFinalized, Time: at, Consumer: "acme", Data: json.RawMessage(`{"total":6969}`)}
}

func TestOutboxDeliversSignedAndSurvivesRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	rcv := newReceiver(t)
	clock := tollgatetest.NewClock(time.Now())
	open := func() *webhooks.Outbox {
		o, err := webhooks.OpenOutbox(webhooks.OutboxConfig{
			Dir: dir, Endpoints: []webhooks.Endpoint{{URL: rcv.URL, Secret: rcv.secret}},
			Client: loopbackClient(t), Now: clock.Now,
		})
		require.NoError(t, err)
		return o
	}
	o := open()
	_, err := webhooks.OpenOutbox(webhooks.OutboxConfig{Dir: dir, Endpoints: []webhooks.Endpoint{{URL: rcv.URL, Secret: rcv.secret}}})
	assert.ErrorContains(t, err, "another process", "one process per outbox")

	require.NoError(t, o.Notify(ctx, event("evt_1", clock.Now())))
	require.NoError(t, o.Notify(ctx, event("evt_1", clock.Now())), "a repeated id is accepted once")
	assert.Equal(t, 1, o.Pending())
	_, err = o.Deliver(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"evt_1"}, rcv.ids())
	assert.Zero(t, o.Pending())

	// The endpoint goes down: the event stays owed, with a backoff, across a restart.
	rcv.fail.Store(true)
	require.NoError(t, o.Notify(ctx, event("evt_2", clock.Now())))
	next, err := o.Deliver(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, o.Pending())
	assert.True(t, next.After(clock.Now()), "retried later, not in a loop")
	assert.WithinDuration(t, clock.Now().Add(5*time.Second), next, 5*time.Second)
	require.NoError(t, o.Close())

	o = open()
	defer o.Close()
	assert.Equal(t, 1, o.Pending(), "the restart still owes evt_2, and only it")
	rcv.fail.Store(false)
	_, err = o.Deliver(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"evt_1", "evt_2"}, rcv.ids())
	assert.Zero(t, o.Pending())
}

func TestOutboxGivesUpAfterMaxAge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t)
	rcv.fail.Store(true)
	clock := tollgatetest.NewClock(time.Now())
	o, err := webhooks.OpenOutbox(webhooks.OutboxConfig{
		Dir: t.TempDir(), Endpoints: []webhooks.Endpoint{{URL: rcv.URL, Secret: rcv.secret}},
		Client: loopbackClient(t), Now: clock.Now, MaxAge: time.Hour,
	})
	require.NoError(t, err)
	defer o.Close()
	require.NoError(t, o.Notify(ctx, event("evt_1", clock.Now())))
	_, err = o.Deliver(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, o.Pending())
	clock.Advance(2 * time.Hour)
	_, err = o.Deliver(ctx)
	require.NoError(t, err)
	assert.Zero(t, o.Pending(), "given up and logged after MaxAge")
}

// The default client has the SSRF guard on: an endpoint on loopback is refused, so the
// event stays owed rather than reaching an internal service.
func TestOutboxDefaultClientRefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	o, err := webhooks.OpenOutbox(webhooks.OutboxConfig{Dir: t.TempDir(), Endpoints: []webhooks.Endpoint{{URL: rcv.URL, Secret: rcv.secret}}})
	require.NoError(t, err)
	defer o.Close()
	require.NoError(t, o.Notify(context.Background(), event("evt_1", time.Now())))
	_, err = o.Deliver(context.Background())
	require.NoError(t, err)
	assert.Empty(t, rcv.ids())
	assert.Equal(t, 1, o.Pending())
}

func TestOutboxRunAndTornJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rcv := newReceiver(t)
	cfg := webhooks.OutboxConfig{Dir: dir, Endpoints: []webhooks.Endpoint{{URL: rcv.URL, Secret: rcv.secret}}, Client: loopbackClient(t)}
	rcv.fail.Store(true)
	o, err := webhooks.OpenOutbox(cfg)
	require.NoError(t, err)
	require.NoError(t, o.Notify(context.Background(), event("evt_1", time.Now())))
	require.NoError(t, o.Close())
	// A crash mid-append leaves a torn last line; it was never acknowledged and is dropped.
	f, err := os.OpenFile(filepath.Join(dir, "outbox.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"event":{"id":"evt_2","ty`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	rcv.fail.Store(false)
	o, err = webhooks.OpenOutbox(cfg)
	require.NoError(t, err)
	defer o.Close()
	assert.Equal(t, 1, o.Pending())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	require.Eventually(t, func() bool { return o.Pending() == 0 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, o.Notify(context.Background(), event("evt_3", time.Now())))
	require.Eventually(t, func() bool { return len(rcv.ids()) == 2 }, 5*time.Second, 10*time.Millisecond, "Run wakes on Notify")
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)

	_, err = webhooks.OpenOutbox(webhooks.OutboxConfig{Dir: dir})
	assert.Error(t, err, "an outbox needs endpoints")
	_, err = webhooks.OpenOutbox(webhooks.OutboxConfig{Endpoints: cfg.Endpoints})
	assert.Error(t, err, "and a directory")
}
