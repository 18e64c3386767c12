package problem

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		err      error
		status   int
		wantBody bool
		header   string
	}{
		{"plain", http.MethodGet, huma.Error429TooManyRequests("slow down"), 429, true, ""},
		{"head has no body", http.MethodHead, huma.Error401Unauthorized("who are you"), 401, false, ""},
		{"not a status error", http.MethodGet, errors.New("boom: secret detail"), 500, true, ""},
		{"headers carried", http.MethodGet, huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("busy"), http.Header{"Retry-After": {"3"}}), 503, true, "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			Write(rec, httptest.NewRequest(tt.method, "/x", nil), tt.err)
			assert.Equal(t, tt.status, rec.Code)
			assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
			assert.Equal(t, tt.header, rec.Header().Get("Retry-After"))
			if !tt.wantBody {
				assert.Zero(t, rec.Body.Len())
				return
			}
			var got huma.ErrorModel
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			assert.Equal(t, tt.status, got.Status)
			assert.NotEmpty(t, got.Detail)
			assert.NotContains(t, rec.Body.String(), "secret")
		})
	}
}
