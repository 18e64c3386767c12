package clients_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/clients"
)

// TestStatusErrorIsWrittenAsAProblem: returned by a huma handler, as is or wrapped, the
// error of every kind reaches the caller as the service's problem+json, with its headers.
func TestStatusErrorIsWrittenAsAProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter bool
	}{
		{"open breaker", clients.ErrCircuitOpen, http.StatusServiceUnavailable, true},
		{"retry budget", clients.ErrRetryBudgetExhausted, http.StatusServiceUnavailable, true},
		{"timeout", clients.ErrAttemptTimeout, http.StatusGatewayTimeout, false},
		{"upstream failure", &clients.Error{Status: 500}, http.StatusBadGateway, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, api := humatest.New(t, huma.DefaultConfig("T", "1"))
			huma.Get(api, "/x", func(context.Context, *struct{}) (*struct{}, error) {
				return nil, fmt.Errorf("%w: %w", clients.StatusError(tt.err), tt.err)
			})
			rec := api.Get("/x")
			require.Equal(t, tt.status, rec.Code)
			assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
			assert.Equal(t, tt.retryAfter, rec.Header().Get("Retry-After") != "")
			var body map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.EqualValues(t, tt.status, body["status"], "the problem itself, not a wrapper: %s", rec.Body)
		})
	}
}
