package stripeprovider_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v84"

	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/billing/stripeprovider"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// stripeMock returns the URL of a stripe-mock server: TOLLGATE_STRIPE_MOCK_URL, or one this
// test starts from the stripe-mock binary (go install github.com/stripe/stripe-mock@v0.203.0).
// Without either the test skips, or fails under TOLLGATE_REQUIRE_SERVICES=1.
func stripeMock(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("TOLLGATE_STRIPE_MOCK_URL"); u != "" {
		return u
	}
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "stripe-mock")
		if _, serr := os.Stat(bin); serr != nil {
			msg := "stripe-mock not found: go install github.com/stripe/stripe-mock@v0.203.0, or set TOLLGATE_STRIPE_MOCK_URL"
			if tollgatetest.RequireServices() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cmd := exec.Command(bin, "-http-addr", addr)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/v1/customers")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return true
	}, 20*time.Second, 50*time.Millisecond, "stripe-mock did not start")
	return url
}

// recorder wraps the transport to see what the provider sends: paths and idempotency keys.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.calls = append(r.calls, fmt.Sprintf("%s %s %s", req.Method, req.URL.Path, req.Header.Get("Idempotency-Key")))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func newProvider(t *testing.T) (*stripeprovider.Provider, *recorder) {
	t.Helper()
	url := stripeMock(t)
	rec := &recorder{}
	sc := stripe.NewClient("sk_test_123", stripe.WithBackends(stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		URL: stripe.String(url), HTTPClient: &http.Client{Transport: rec, Timeout: 10 * time.Second},
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})))
	p, err := stripeprovider.New(stripeprovider.Config{Client: sc, MeterEvents: map[string]string{"deliveries": "delivery_created"}})
	require.NoError(t, err)
	return p, rec
}

func TestAgainstStripeMock(t *testing.T) {
	ctx := context.Background()
	p, rec := newProvider(t)

	customer, err := p.SyncCustomer(ctx, billing.Customer{Consumer: "acme", Name: "Acme Ltd", Email: "billing@acme.example"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(customer, "cus_"), customer)

	at := time.Now().Add(-time.Hour)
	require.NoError(t, p.ReportUsage(ctx, customer, []billing.UsageRecord{
		{ID: "acme-2026-03-deliveries", Meter: "deliveries", Value: 1510, Time: at},
		{ID: "acme-2026-03-sms", Meter: "sms", Value: 25, Time: at},
	}))

	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	inv := billing.Invoice{
		ID: "in_abc", Consumer: "acme", Status: billing.InvoiceFinalized, PeriodStart: start, PeriodEnd: start.AddDate(0, 1, 0),
		Currency: "GBP", Subtotal: 2450, Total: 2450,
		Lines: []billing.InvoiceLine{
			{Description: "Starter plan", Plan: "starter", Quantity: 1, Amount: 2900 - 450, PeriodStart: start, PeriodEnd: start.AddDate(0, 1, 0)},
			{Description: "Deliveries created", Meter: "deliveries", Quantity: 300, Amount: 0, PeriodStart: start, PeriodEnd: start.AddDate(0, 1, 0)},
		},
	}
	id, err := p.CollectInvoice(ctx, customer, inv)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(id, "in_"), id)

	calls := rec.list()
	assert.Contains(t, calls, "POST /v1/billing/meter_events tollgate-usage-acme-2026-03-deliveries")
	assert.Contains(t, calls, "POST /v1/invoices tollgate-invoice-in_abc")
	assert.Contains(t, calls, "POST /v1/invoiceitems tollgate-invoice-in_abc-line-0")
	assert.NotContains(t, strings.Join(calls, "\n"), "line-1", "a zero line is not sent")
	var finalized bool
	for _, c := range calls {
		finalized = finalized || (strings.HasSuffix(strings.Fields(c)[1], "/finalize") && strings.HasSuffix(c, "tollgate-finalize-in_abc"))
	}
	assert.True(t, finalized, "the invoice is finalised: %v", calls)

	// Collecting again sends the same idempotency keys, so Stripe answers with the first
	// result instead of charging twice. (stripe-mock keeps no state and invents new ids,
	// so only the keys are compared.)
	keys := func(cs []string) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c[strings.LastIndex(c, " ")+1:])
		}
		return out
	}
	before := len(rec.list())
	_, err = p.CollectInvoice(ctx, customer, inv)
	require.NoError(t, err)
	again := rec.list()[before:]
	assert.Equal(t, keys(calls[len(calls)-len(again):]), keys(again))

	draft := inv
	draft.Status = billing.InvoiceDraft
	_, err = p.CollectInvoice(ctx, customer, draft)
	assert.Error(t, err, "only finalised invoices are collected")
	assert.Error(t, p.ReportUsage(ctx, customer, []billing.UsageRecord{{Meter: "x"}}), "records need ids")
	_, err = stripeprovider.New(stripeprovider.Config{})
	assert.Error(t, err)
}

// The provider behind a Biller: finalising a period hands the invoice to Stripe.
func TestBillerCollectsThroughStripe(t *testing.T) {
	ctx := context.Background()
	p, rec := newProvider(t)
	usage := billingUsage(t)
	now := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	b, err := billing.New(ctx, billing.Config{Usage: usage, Provider: p, Now: func() time.Time { return now },
		Plans: []billing.Plan{{Key: "starter", Version: 1, Name: "Starter", Currency: "GBP", Fee: 3100}}})
	require.NoError(t, err)
	_, err = b.ChangePlan(ctx, "acme", billing.PlanChange{Plan: "starter"})
	require.NoError(t, err)
	now = time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	n, err := b.FinalizeDue(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Contains(t, strings.Join(rec.list(), "\n"), "POST /v1/invoices tollgate-invoice-"+billing.InvoiceID("acme", time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)))
}
