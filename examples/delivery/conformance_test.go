package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// raw sends body as it is, with contentType, through the validated stack.
func (s *stack) raw(method, path, key, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "198.51.100.7:5555"
	r.Header.Set("Content-Type", contentType)
	if key != "" {
		r.Header.Set("X-API-Key", key)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

// TestEveryStatusIsDocumented reaches each status the composed API answers; the stack's
// validator fails the test if the operation does not document it as sent. (431 is answered
// by net/http before any handler, for every path, and a 405 or an unknown path is no
// operation: neither can be documented on an operation. The 503 of an open payment breaker
// is reached in TestPaymentOutageOpensTheBreaker, through the same validator.)
func TestEveryStatusIsDocumented(t *testing.T) {
	t.Parallel()
	const client = "198.51.100.7"
	tests := []struct {
		name string
		env  map[string]string
		do   func(t *testing.T, s *stack) int
		want int
	}{
		{"200 the key as a bearer token", nil, func(t *testing.T, s *stack) int {
			r := httptest.NewRequest(http.MethodGet, "/v1/deliveries", nil)
			r.Header.Set("Authorization", "Bearer "+s.key)
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, r)
			return w.Code
		}, http.StatusOK},
		{"400 two credentials", nil, func(t *testing.T, s *stack) int {
			r := httptest.NewRequest(http.MethodGet, "/v1/deliveries", nil)
			r.Header.Set("X-API-Key", s.key)
			r.Header.Set("Authorization", "Bearer "+s.key)
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, r)
			return w.Code
		}, http.StatusBadRequest},
		{"400 malformed JSON", nil, func(t *testing.T, s *stack) int {
			return s.raw(http.MethodPost, "/v1/deliveries", s.key, "application/json", `{"pickup":`).Code
		}, http.StatusBadRequest},
		{"401 no credential", nil, func(t *testing.T, s *stack) int {
			return s.do(http.MethodGet, "/v1/deliveries", "", client, nil).Code
		}, http.StatusUnauthorized},
		{"404 unknown delivery", nil, func(t *testing.T, s *stack) int {
			return s.do(http.MethodGet, "/v1/deliveries/dlv_0000000000000000", s.key, client, nil).Code
		}, http.StatusNotFound},
		{"404 confirming an unknown delivery", nil, func(t *testing.T, s *stack) int {
			return s.do(http.MethodPost, "/v1/deliveries/dlv_0000000000000000/confirm", s.key, client, map[string]any{"received_by": "Ada"}).Code
		}, http.StatusNotFound},
		{"405 is no operation", nil, func(t *testing.T, s *stack) int {
			return s.do(http.MethodDelete, "/v1/deliveries", s.key, client, nil).Code
		}, http.StatusMethodNotAllowed},
		{"413 body too large", nil, func(t *testing.T, s *stack) int {
			return s.raw(http.MethodPost, "/v1/deliveries", s.key, "application/json", `{"pickup":"`+strings.Repeat("x", 2<<20)+`"}`).Code
		}, http.StatusRequestEntityTooLarge},
		{"415 unsupported content type", nil, func(t *testing.T, s *stack) int {
			return s.raw(http.MethodPost, "/v1/deliveries", s.key, "text/plain", "milk").Code
		}, http.StatusUnsupportedMediaType},
		{"422 invalid delivery", nil, func(t *testing.T, s *stack) int {
			return s.do(http.MethodPost, "/v1/deliveries", s.key, client, map[string]any{"recipient_phone": "nope"}).Code
		}, http.StatusUnprocessableEntity},
		{"422 invalid query", nil, func(t *testing.T, s *stack) int {
			return s.do(http.MethodGet, "/v1/deliveries?limit=many", s.key, client, nil).Code
		}, http.StatusUnprocessableEntity},
		{"429 rate limited", nil, func(t *testing.T, s *stack) int {
			for range 30 {
				if rec := s.do(http.MethodGet, "/v1/deliveries", s.key, client, nil); rec.Code != http.StatusOK {
					return rec.Code
				}
			}
			return http.StatusOK
		}, http.StatusTooManyRequests},
		{"429 failed authentications throttled", nil, func(t *testing.T, s *stack) int {
			bad := s.key[:len(s.key)-1] + "x"
			for range 10 {
				if rec := s.do(http.MethodGet, "/v1/deliveries", bad, client, nil); rec.Code != http.StatusUnauthorized {
					return rec.Code
				}
			}
			return http.StatusUnauthorized
		}, http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			s := newStackEnv(t, env)
			defer s.stop()
			got := tt.do(t, s)
			require.NotZero(t, got)
			assert.Equal(t, tt.want, got)
		})
	}
}
