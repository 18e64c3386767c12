package metering_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/metering"
)

type out struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

// withPrincipal stands in for the authentication middleware.
func withPrincipal(ctx huma.Context, next func(huma.Context)) {
	next(huma.WithContext(ctx, auth.NewContext(ctx.Context(), &auth.Principal{Consumer: "acme", KeyID: "k9", Plan: "pro"})))
}

func meteredAPI(t *testing.T, m *metering.Meter) humatest.TestAPI {
	_, api := humatest.New(t)
	api.UseMiddleware(withPrincipal, m.Huma(api))
	huma.Register(api, apply(huma.Operation{OperationID: "create", Method: http.MethodPost, Path: "/things",
		Metadata: map[string]any{"other": true}}, metering.Units("deliveries", 1)), func(ctx context.Context, in *struct {
		Limited bool `query:"limited"`
		Body    struct {
			Note string `json:"note,omitempty"`
		}
	}) (*out, error) {
		if in.Limited {
			return nil, huma.Error429TooManyRequests("slow down")
		}
		metering.FromContext(ctx).Add("sms", 2)
		return &out{}, nil
	})
	huma.Register(api, apply(huma.Operation{OperationID: "health", Method: http.MethodGet, Path: "/health"}, metering.Skip()),
		func(ctx context.Context, _ *struct{}) (*out, error) { return &out{}, nil })
	return api
}

func apply(op huma.Operation, mods ...func(*huma.Operation)) huma.Operation {
	for _, m := range mods {
		m(&op)
	}
	return op
}

func TestHumaMiddleware(t *testing.T) {
	t.Parallel()
	c := newCollector()
	m := newMeter(t, metering.Config{Sink: c})
	api := meteredAPI(t, m)

	assert.Equal(t, http.StatusOK, api.Post("/things", map[string]any{}).Code)
	assert.Equal(t, http.StatusTooManyRequests, api.Post("/things?limited=true", map[string]any{}).Code)
	for range 3 {
		assert.Equal(t, http.StatusOK, api.Post("/things", "Idempotency-Key: abc", map[string]any{}).Code)
	}
	assert.Equal(t, http.StatusOK, api.Get("/health").Code)
	closeMeter(t, m)

	evs := c.events()
	require.Len(t, evs, 3, "one success, one rejection, one idempotent request; health is skipped")
	var ok, limited, idem int
	for _, e := range evs {
		assert.Equal(t, "acme", e.Consumer)
		assert.Equal(t, "k9", e.KeyID)
		assert.Equal(t, "create", e.Operation)
		switch {
		case e.Status == http.StatusTooManyRequests:
			limited++
			assert.Empty(t, e.Units, "a rejected call carries no billable units")
			assert.Positive(t, e.ResponseBytes)
		case e.IdempotencyKey == "abc":
			idem++
			assert.Equal(t, metering.DeriveID("tollgate", "acme", "create", "abc"), e.ID)
			assert.Equal(t, map[string]int64{"deliveries": 1, "sms": 2}, e.Units)
		default:
			ok++
			assert.Equal(t, http.StatusOK, e.Status)
			assert.Equal(t, map[string]int64{"deliveries": 1, "sms": 2}, e.Units)
			assert.Positive(t, e.RequestBytes)
			assert.Positive(t, e.ResponseBytes)
		}
	}
	assert.Equal(t, []int{1, 1, 1}, []int{ok, limited, idem})

	op := api.OpenAPI().Paths["/things"].Post
	assert.Equal(t, map[string]int64{"deliveries": 1}, op.Extensions[metering.ExtensionKey])
	assert.Equal(t, true, op.Metadata["other"], "existing metadata is kept")
}

func TestUnitsModifierAccumulates(t *testing.T) {
	t.Parallel()
	op := apply(huma.Operation{}, metering.Units("a", 1), metering.Units("b", 3))
	assert.Equal(t, map[string]int64{"a": 1, "b": 3}, op.Extensions[metering.ExtensionKey])
}

func TestHumaRejectsBillableWhenSaturated(t *testing.T) {
	t.Parallel()
	c := newCollector()
	c.gate = make(chan struct{})
	m := newMeter(t, metering.Config{Sink: c, QueueSize: 1, BatchSize: 1, FlushInterval: time.Hour,
		Overflow: metering.OverflowReject})
	api := meteredAPI(t, m)
	require.Equal(t, http.StatusOK, api.Post("/things", map[string]any{}).Code)
	require.NoError(t, m.Flush(context.Background()))
	require.Equal(t, http.StatusOK, api.Post("/things", map[string]any{}).Code)
	require.True(t, m.Saturated())
	resp := api.Post("/things", map[string]any{})
	assert.Equal(t, http.StatusServiceUnavailable, resp.Code)
	assert.Equal(t, "1", resp.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusOK, api.Get("/health").Code, "unmetered operations still run")
	close(c.gate)
	closeMeter(t, m)
	assert.Equal(t, 2, c.count())
}

func TestHandler(t *testing.T) {
	t.Parallel()
	c := newCollector()
	m := newMeter(t, metering.Config{Sink: c})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sms", func(w http.ResponseWriter, r *http.Request) {
		metering.FromContext(r.Context()).Add("sms", 1)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("sent"))
	})
	h := m.Handler(mux)
	req := httptest.NewRequest(http.MethodPost, "/v1/sms", strings.NewReader("hello"))
	req = req.WithContext(auth.NewContext(req.Context(), &auth.Principal{Consumer: "acme"}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusAccepted, rec.Code)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nowhere", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
	closeMeter(t, m)

	evs := c.events()
	require.Len(t, evs, 2)
	byStatus := map[int]metering.Event{}
	for _, e := range evs {
		byStatus[e.Status] = e
	}
	sms := byStatus[http.StatusAccepted]
	assert.Equal(t, "POST /v1/sms", sms.Operation)
	assert.Equal(t, "acme", sms.Consumer)
	assert.Equal(t, map[string]int64{"sms": 1}, sms.Units)
	assert.EqualValues(t, 5, sms.RequestBytes)
	assert.EqualValues(t, 4, sms.ResponseBytes)
	assert.Equal(t, http.MethodGet, byStatus[http.StatusNotFound].Operation)
}

func TestAccumulatorNilSafe(t *testing.T) {
	t.Parallel()
	metering.FromContext(context.Background()).Add("x", 1) // no panic outside a request
	var a *metering.Accumulator
	assert.Nil(t, a.Units())
}

func TestAnonymousIdempotencyKeysAreNotShared(t *testing.T) {
	t.Parallel()
	c := newCollector()
	m := newMeter(t, metering.Config{Sink: c})
	_, api := humatest.New(t)
	api.UseMiddleware(m.Huma(api))
	huma.Register(api, huma.Operation{OperationID: "ping", Method: http.MethodPost, Path: "/ping"},
		func(ctx context.Context, _ *struct{}) (*out, error) { return &out{}, nil })
	for range 2 {
		require.Equal(t, http.StatusOK, api.Post("/ping", "Idempotency-Key: same").Code)
	}
	closeMeter(t, m)
	assert.Equal(t, 2, c.count(), "without a consumer a key cannot identify a repeat")
}

// TestHumaDocumentsSaturation: a billable operation can be refused with 503 and says so;
// an unmetered one cannot.
func TestHumaDocumentsSaturation(t *testing.T) {
	t.Parallel()
	api := meteredAPI(t, newMeter(t, metering.Config{Sink: newCollector()}))
	paths := api.OpenAPI().Paths
	r := paths["/things"].Post.Responses["503"]
	require.NotNil(t, r, "the billable operation documents 503")
	assert.Contains(t, r.Headers, "Retry-After")
	assert.NotContains(t, paths["/health"].Get.Responses, "503")
}
