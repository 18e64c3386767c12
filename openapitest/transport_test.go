package openapitest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/openapitest"
)

func TestTransport(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("testdata/things.yaml")
	require.NoError(t, err)
	tests := []struct {
		name string
		body string
		want string // a substring of the failure; empty: conforming
	}{
		{"conforming", `{"id":"a","name":"apple"}`, ""},
		{"extra field", `{"id":"a","name":"apple","colour":"red"}`, "GET /things/a 200: /: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(respond(http.StatusOK, "application/json", tt.body))
			defer srv.Close()
			rec := &recorder{TB: t}
			c := &http.Client{Transport: openapitest.Transport(rec, nil, doc)}
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/things/a", nil)
			require.NoError(t, err)
			req.Header.Set("X-API-Key", "k")
			resp, err := c.Do(req)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, tt.body, string(b), "the caller still reads the body")
			if tt.want == "" {
				assert.Empty(t, rec.failures())
				return
			}
			assert.Contains(t, strings.Join(rec.failures(), "\n"), tt.want)
		})
	}
}
