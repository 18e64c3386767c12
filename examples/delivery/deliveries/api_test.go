package deliveries

import (
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/openapitest"
)

func TestDeliveryLifecycle(t *testing.T) {
	t.Parallel()
	_, raw := humatest.New(t)
	Register(raw, &Service{Store: NewStore(nil)}, Policy{})
	api := openapitest.Wrap(t, raw)

	body := map[string]any{
		"pickup":          map[string]any{"line1": "1 Depot Way", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
		"dropoff":         map[string]any{"line1": "12 Market Street", "city": "Leeds", "postal_code": "LS1 6DT", "country": "GB"},
		"recipient_phone": "+447700900123",
		"items":           []map[string]any{{"sku": "MILK-2L", "quantity": 2}},
	}
	resp := api.Post("/deliveries", body)
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	var d Delivery
	decode(t, resp.Body.Bytes(), &d)
	assert.Equal(t, StatusCreated, d.Status)
	assert.Regexp(t, `^dlv_[0-9a-f]{16}$`, d.ID)

	resp = api.Get("/deliveries/" + d.ID)
	require.Equal(t, http.StatusOK, resp.Code)

	resp = api.Post("/deliveries/"+d.ID+"/confirm", map[string]any{"received_by": "Ada"})
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	decode(t, resp.Body.Bytes(), &d)
	assert.Equal(t, StatusConfirmed, d.Status)
	assert.Equal(t, "Ada", d.ConfirmedBy)

	resp = api.Get("/deliveries?limit=1")
	require.Equal(t, http.StatusOK, resp.Code)
	assert.Contains(t, resp.Body.String(), d.ID)

	tests := []struct {
		name   string
		path   string
		status int
	}{
		{"unknown id", "/deliveries/dlv_0000000000000000", http.StatusNotFound},
		{"malformed id", "/deliveries/nope", http.StatusUnprocessableEntity},
		{"bad limit", "/deliveries?limit=0", http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := api.Get(tt.path)
			assert.Equal(t, tt.status, resp.Code, resp.Body.String())
			assert.Equal(t, "application/problem+json", resp.Header().Get("Content-Type"))
		})
	}
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	s := NewStore(nil)
	var ids []string
	for range 5 {
		d, err := s.Create(t.Context(), "a", Delivery{})
		require.NoError(t, err)
		ids = append(ids, d.ID)
	}
	_, _ = s.Create(t.Context(), "b", Delivery{})
	var got []string
	after := ""
	for {
		page, next := s.List(t.Context(), "a", after, 2, "")
		for _, d := range page {
			got = append(got, d.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	assert.Equal(t, ids, got, "every delivery of the owner, once, in order, and none of another owner")
}
