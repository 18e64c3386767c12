package billing_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

// asConsumer stands in for auth's middleware: the X-Consumer header names the caller.
func asConsumer(ctx huma.Context, next func(huma.Context)) {
	if c := ctx.Header("X-Consumer"); c != "" {
		ctx = huma.WithContext(ctx, auth.NewContext(ctx.Context(), &auth.Principal{Consumer: c, Plan: "from-key"}))
	}
	next(ctx)
}

type planOut struct {
	Body struct {
		Plan string `json:"plan"`
	}
}

func TestEntitledHuma(t *testing.T) {
	t.Parallel()
	f := newBiller(t, at(1, 0, 0), nil)
	_, api := humatest.New(t, huma.DefaultConfig("Test", "1.0.0"))
	api.UseMiddleware(asConsumer, f.b.Huma(api))
	seen := func(ctx context.Context, _ *struct{}) (*planOut, error) {
		out := &planOut{}
		out.Body.Plan = auth.FromContext(ctx).Plan
		return out, nil
	}
	huma.Post(api, "/priority", seen, billing.Entitled("priority"))
	huma.Get(api, "/open", seen)

	resp := api.Post("/priority", "X-Consumer: acme", map[string]any{})
	require.Equal(t, http.StatusPaymentRequired, resp.Code)
	assert.Equal(t, "application/problem+json", resp.Header().Get("Content-Type"))
	var prob huma.ErrorModel
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &prob))
	assert.Contains(t, prob.Detail, `"priority"`)
	assert.Contains(t, prob.Detail, "growth")
	require.Len(t, prob.Errors, 2)
	assert.Equal(t, "entitlement", prob.Errors[0].Location)
	assert.Equal(t, "priority", prob.Errors[0].Value)
	assert.Equal(t, "growth", prob.Errors[1].Value)

	_, err := f.b.ChangePlan(context.Background(), "acme", billing.PlanChange{Plan: "growth"})
	require.NoError(t, err)
	resp = api.Post("/priority", "X-Consumer: acme", map[string]any{})
	require.Equal(t, http.StatusOK, resp.Code)
	assert.Contains(t, resp.Body.String(), `"plan":"growth"`, "the principal carries the billing plan for rate limits")
	resp = api.Get("/open", "X-Consumer: beta")
	require.Equal(t, http.StatusOK, resp.Code)
	assert.Contains(t, resp.Body.String(), `"plan":"free"`, "the default plan")

	oapi := api.OpenAPI().Paths["/priority"].Post
	require.Contains(t, oapi.Responses, "402")
	assert.Contains(t, oapi.Responses["402"].Description, "priority")
	assert.NotContains(t, api.OpenAPI().Paths["/open"].Get.Responses, "402")
}

func TestEntitledHandler(t *testing.T) {
	t.Parallel()
	f := newBiller(t, at(1, 0, 0), nil)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(auth.FromContext(r.Context()).Plan))
	})
	h := f.b.Handler(f.b.Require(inner, "webhooks"))
	serve := func(consumer string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r = r.WithContext(auth.NewContext(r.Context(), &auth.Principal{Consumer: consumer}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := serve("acme")
	assert.Equal(t, http.StatusPaymentRequired, w.Code)
	assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	assert.Contains(t, w.Body.String(), "starter")
	_, err := f.b.ChangePlan(context.Background(), "acme", billing.PlanChange{Plan: "starter"})
	require.NoError(t, err)
	w = serve("acme")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "starter", w.Body.String())
}

func TestRegister(t *testing.T) {
	t.Parallel()
	f := newBiller(t, at(10, 0, 0), nil)
	_, api := humatest.New(t, huma.DefaultConfig("Test", "1.0.0"))
	api.UseMiddleware(asConsumer)
	billing.Register(api, f.b)

	resp := api.Get("/me/subscription", "X-Consumer: acme")
	assert.Equal(t, http.StatusNotFound, resp.Code)
	assert.Equal(t, http.StatusUnauthorized, api.Get("/me/subscription").Code)
	resp = api.Get("/me/plans", "X-Consumer: acme")
	require.Equal(t, http.StatusOK, resp.Code)
	assert.Contains(t, resp.Body.String(), `"key":"growth"`)

	resp = api.Put("/me/subscription", "X-Consumer: acme", map[string]any{"plan": "starter"})
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	assert.Contains(t, resp.Body.String(), `"plan":"starter"`)
	assert.Equal(t, http.StatusConflict, api.Put("/me/subscription", "X-Consumer: acme", map[string]any{"plan": "starter"}).Code)
	assert.Equal(t, http.StatusNotFound, api.Put("/me/subscription", "X-Consumer: acme", map[string]any{"plan": "gold"}).Code)
	assert.Equal(t, http.StatusUnprocessableEntity, api.Put("/me/subscription", "X-Consumer: acme", map[string]any{"plan": 7}).Code)

	f.use(t, "acme", "deliveries", 150, at(11, 0, 0))
	resp = api.Get("/me/invoices", "X-Consumer: acme")
	require.Equal(t, http.StatusOK, resp.Code)
	var list struct{ Invoices []billing.Invoice }
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &list))
	require.Len(t, list.Invoices, 1)
	assert.Nil(t, list.Invoices[0].Lines, "lists carry totals, not lines")
	id := list.Invoices[0].ID

	resp = api.Get("/me/invoices/"+id, "X-Consumer: acme")
	require.Equal(t, http.StatusOK, resp.Code)
	var inv billing.Invoice
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &inv))
	assert.Equal(t, billing.InvoiceDraft, inv.Status)
	assert.NotEmpty(t, inv.Lines)

	// Another consumer gets 404 for every id of acme's, as for one that does not exist.
	for _, path := range []string{"/me/invoices/" + id, "/me/invoices/in_nope", "/me/subscription"} {
		assert.Equal(t, http.StatusNotFound, api.Get(path, "X-Consumer: beta").Code, path)
	}
	resp = api.Get("/me/invoices", "X-Consumer: beta")
	require.Equal(t, http.StatusOK, resp.Code)
	assert.False(t, strings.Contains(resp.Body.String(), id))
	assert.Equal(t, http.StatusUnprocessableEntity, api.Get("/me/invoices/"+strings.Repeat("x", 65), "X-Consumer: acme").Code)
}

func TestQuotaPolicy(t *testing.T) {
	t.Parallel()
	plans := testPlans()
	v2 := plans[0]
	v2.Version, v2.Limits = 2, map[string]int64{"deliveries": 250}
	pol := billing.QuotaPolicy("deliveries-monthly", "deliveries", nil, append(plans, v2))
	assert.Equal(t, "deliveries-monthly", pol.Name)
	assert.Equal(t, map[string]ratelimit.Rate{
		"free":    ratelimit.Monthly(250), // the newest version's limit
		"starter": ratelimit.Monthly(10_000),
		"growth":  {}, // no limit declared: not limited
	}, pol.Plans)
	_, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{pol}})
	require.NoError(t, err, "a valid ratelimit policy")
}
