package openapitest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/openapitest"
)

// recorder is a testing.TB that keeps the failures a Validator reports, so that tests can
// assert that a drift fails the test it happens in.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func (r *recorder) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

// respond is a handler that answers with a fixed status, headers and body.
func respond(status int, contentType, body string, headers ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

func TestHandler(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("testdata/things.yaml")
	require.NoError(t, err)
	const (
		js      = "application/json"
		problem = "application/problem+json"
		thing   = `{"id":"a","name":"apple"}`
	)
	tests := []struct {
		name    string
		path    string
		key     string
		h       http.Handler
		want    []string // substrings of the failures, in order; none: the exchange conforms
		matched bool
	}{
		{"conforming 200", "/things/a", "k", respond(200, js, thing, "RateLimit", `"m";r=1;t=2`), nil, true},
		{"conforming 429", "/things/a", "k", respond(429, problem, `{"status":429,"title":"Too Many Requests"}`, "Retry-After", "3"), nil, true},
		{"undocumented status", "/things/a", "k", respond(418, problem, `{"status":418}`),
			[]string{"GET /things/a 418", "418"}, true},
		{"extra field", "/things/a", "k", respond(200, js, `{"id":"a","name":"apple","colour":"red"}`),
			[]string{"GET /things/a 200: /: ", "colour"}, true},
		{"missing field", "/things/a", "k", respond(200, js, `{"id":"a"}`),
			[]string{"GET /things/a 200: /: ", "name"}, true},
		{"wrong type deep", "/things/a", "k", respond(200, js, `{"id":"a","name":""}`),
			[]string{"GET /things/a 200: /name: "}, true},
		{"extension member not in the problem schema", "/things/a", "k",
			respond(429, problem, `{"status":429,"violated-policies":["m"]}`, "Retry-After", "1"),
			[]string{"GET /things/a 429: /: ", "violated-policies"}, true},
		{"undeclared content type", "/things/a", "k", respond(200, "text/plain", "apple"),
			[]string{"GET /things/a 200", "text/plain"}, true},
		{"error not problem+json", "/things/a", "k", respond(404, js, `{"status":404}`),
			[]string{"GET /things/a 404", "application/json", "not application/problem+json"}, true},
		{"undocumented contract header", "/things/a", "k", respond(404, problem, `{"status":404}`, "Retry-After", "3"),
			[]string{"GET /things/a 404: header:Retry-After: header Retry-After is sent but not documented for status 404"}, true},
		{"documented header with a bad value", "/things/a", "k", respond(429, problem, `{"status":429}`, "Retry-After", "soon"),
			[]string{"GET /things/a 429: header:", "Retry-After"}, true},
		{"accepted a request without its credential", "/things/a", "", respond(200, js, thing),
			[]string{"GET /things/a 200: request", "accepted a request the document does not allow"}, true},
		{"accepted a bad path parameter", "/things/A1", "k", respond(200, js, thing),
			[]string{"GET /things/A1 200: request", "accepted a request"}, true},
		{"refused a bad request: its answer is checked, not the request", "/things/A1", "", respond(404, problem, `{"status":404}`), nil, true},
		{"unknown path is not checked", "/nowhere", "", respond(404, "text/plain", "404 page not found"), nil, false},
		{"unknown method is not checked", "/things/a", "", respond(405, "text/plain", "method not allowed"), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			v := openapitest.Handler(rec, tt.h, doc)
			method := http.MethodGet
			if strings.HasPrefix(tt.name, "unknown method") {
				method = http.MethodDelete
			}
			r := httptest.NewRequest(method, tt.path, nil)
			if tt.key != "" {
				r.Header.Set("X-API-Key", tt.key)
			}
			w := httptest.NewRecorder()
			v.ServeHTTP(w, r)
			got := rec.failures()
			if len(tt.want) == 0 {
				assert.Empty(t, got)
			} else {
				require.NotEmpty(t, got, "the drift fails the test")
				for _, want := range tt.want {
					assert.Contains(t, strings.Join(got, "\n"), want)
				}
			}
			assert.Equal(t, !tt.matched, v.Unmatched() == 1, "unmatched count")
		})
	}
}

func TestInvalidDocumentFails(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"not OpenAPI":                  `{"hello":"world"}`,
		"response without description": `{"openapi":"3.1.0","info":{"title":"T","version":"1"},"paths":{"/x":{"get":{"responses":{"200":{}}}}}}`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			openapitest.Handler(rec, respond(200, "", ""), []byte(doc))
			assert.NotEmpty(t, rec.failures())
		})
	}
}
