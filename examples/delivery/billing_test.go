package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/billing/webhooks"
)

// TestBillingEndToEnd: a consumer on the default free plan is refused the paid operation
// with the plans that include it, subscribes, and sees the calls it makes on its draft
// invoice, priced by its plan; the subscription survives a restart.
func TestBillingEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newStack(t, dir)
	const ip = "198.51.100.20"

	rec := s.do(http.MethodGet, "/v1/me/subscription", s.key, ip, nil)
	assert.Equal(t, http.StatusNotFound, rec.Code, "no subscription yet: the free plan applies")
	rec = s.do(http.MethodGet, "/v1/me/usage/hourly", s.key, ip, nil)
	require.Equal(t, http.StatusPaymentRequired, rec.Code, rec.Body.String())
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), "starter, growth", "the problem names the plans that include it")

	rec = s.do(http.MethodPut, "/v1/me/subscription", s.key, ip, map[string]any{"plan": "starter"})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var sub billing.Subscription
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &sub))
	assert.Equal(t, "starter", sub.Plan)
	assert.Equal(t, billing.StatusActive, sub.Status)

	rec = s.do(http.MethodGet, "/v1/me/usage/hourly", s.key, ip, nil)
	require.Equal(t, http.StatusOK, rec.Code, "entitled at once after subscribing: %s", rec.Body.String())

	const created = 3
	for range created {
		rec = s.do(http.MethodPost, "/v1/deliveries", s.key, ip, newDelivery)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	}
	assert.Contains(t, rec.Header().Get("RateLimit-Policy"), `"monthly-deliveries";q=20000`,
		"the starter plan's declared limit is the quota enforced")

	rec = s.do(http.MethodGet, "/v1/me/invoices", s.key, ip, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	var list struct{ Invoices []billing.Invoice }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list.Invoices, 1)
	draft := list.Invoices[0]
	assert.Equal(t, billing.InvoiceDraft, draft.Status)
	assert.Equal(t, "GBP", draft.Currency)

	rec = s.do(http.MethodGet, "/v1/me/invoices/"+draft.ID, s.key, ip, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	var inv billing.Invoice
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &inv))
	lines := map[string]billing.InvoiceLine{}
	for _, l := range inv.Lines {
		lines[l.Meter] = l
	}
	require.Contains(t, lines, "deliveries")
	assert.EqualValues(t, created, lines["deliveries"].Quantity, "every delivery created is on the invoice")
	assert.Zero(t, lines["deliveries"].Amount, "within the 1,000 included")
	assert.EqualValues(t, created, lines["sms"].Quantity, "every text sent")
	assert.EqualValues(t, 5, lines["sms"].Amount, "one started block of 10 texts at 5p")
	fee := lines[""]
	assert.Equal(t, "starter", fee.Plan)
	assert.Positive(t, fee.Amount)
	assert.LessOrEqual(t, fee.Amount, int64(2900), "the first month is prorated from the start")
	assert.Equal(t, fee.Amount+5, inv.Total)

	// An unknown invoice id is 404, like another consumer's.
	assert.Equal(t, http.StatusNotFound, s.do(http.MethodGet, "/v1/me/invoices/in_000000000000000000000000", s.key, ip, nil).Code)

	// The subscription and the invoice are the same after a restart on the same data.
	s.stop()
	s = newStack(t, dir)
	defer s.stop()
	rec = s.do(http.MethodGet, "/v1/me/subscription", s.key, ip, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"plan":"starter"`)
	rec = s.do(http.MethodGet, "/v1/me/invoices/"+draft.ID, s.key, ip, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	var after billing.Invoice
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &after))
	assert.Equal(t, inv.Total, after.Total)

	// The plans on offer, and bad input as 4xx problems. (After the restart, so that the
	// per-consumer burst of ten has room for every call of this test.)
	rec = s.do(http.MethodGet, "/v1/me/plans", s.key, ip, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	var offered struct{ Plans []billing.PlanSummary }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &offered))
	require.Len(t, offered.Plans, 3)
	assert.Equal(t, "free", offered.Plans[0].Key)
	assert.Equal(t, billing.Money{Amount: 2900, Currency: "GBP"}, offered.Plans[1].Fee)
	assert.Equal(t, http.StatusConflict, s.do(http.MethodPut, "/v1/me/subscription", s.key, ip, map[string]any{"plan": "starter"}).Code)
	rec = s.do(http.MethodPut, "/v1/me/subscription", s.key, ip, map[string]any{"plan": "platinum"})
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.Equal(t, http.StatusUnprocessableEntity, s.do(http.MethodPut, "/v1/me/subscription", s.key, ip, map[string]any{"plan": 7}).Code)

	// The OpenAPI describes the billing operations and the 402 of the gated one.
	rec = s.do(http.MethodGet, "/openapi.json", "", ip, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		}
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	for _, p := range []string{"/v1/me/subscription", "/v1/me/invoices", "/v1/me/invoices/{id}", "/v1/me/plans"} {
		assert.Contains(t, doc.Paths, p)
	}
	assert.Contains(t, doc.Paths["/v1/me/usage/hourly"]["get"].Responses, "402")
}

// TestBillingWebhooksAreJournalled: with WEBHOOK_URL set, a plan change is an event on disk
// before the API answers. The receiver here is on loopback, which the outbox's SSRF guard
// refuses to reach, so the event stays owed in the journal, as it would while a real
// endpoint is down.
func TestBillingWebhooksAreJournalled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret, err := webhooks.NewSecret()
	require.NoError(t, err)
	s := newStackEnv(t, map[string]string{"DATA_DIR": dir, "WEBHOOK_URL": "http://127.0.0.1:9/hooks", "WEBHOOK_SECRET": secret.Reveal()})
	defer s.stop()
	rec := s.do(http.MethodPut, "/v1/me/subscription", s.key, "198.51.100.30", map[string]any{"plan": "growth"})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	journal, err := os.ReadFile(filepath.Join(dir, "webhooks", "outbox.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(journal), `"type":"subscription.changed"`)
	assert.NotContains(t, string(journal), secret.Reveal()[6:], "the secret is never written")

	_, err = newBillerForTest(t, map[string]string{"DATA_DIR": t.TempDir(), "WEBHOOK_URL": "https://x", "WEBHOOK_SECRET": "nope"})
	assert.ErrorContains(t, err, "WEBHOOK_SECRET")
}

func newBillerForTest(t *testing.T, env map[string]string) (*billing.Biller, error) {
	t.Helper()
	b, closeFn, err := newBiller(t.Context(), func(k string) string { return env[k] }, nil, nil, slog.Default())
	if closeFn != nil {
		t.Cleanup(closeFn)
	}
	return b, err
}
