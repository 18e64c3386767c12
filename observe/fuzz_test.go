package observe_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-dev/tollgate/observe"
)

// FuzzRequestID feeds untrusted X-Request-ID, traceparent, tracestate and baggage values
// through the validator and the whole Handler path.
func FuzzRequestID(f *testing.F) {
	f.Add("3f2b8c1e-9a4d-4e21-8b7f-2c6d1a0e5f93", parent, "congo=t61rcWkgMzE", "tenant=acme")
	f.Add("", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "", "a=%zz")
	f.Add("a\r\nSet-Cookie: x", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a=b,,c=d", ";;;")
	f.Add(strings.Repeat("a", 129), "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra", "x", strings.Repeat("k=v,", 200))
	obs, err := observe.New(context.Background(), observe.Config{LogWriter: io.Discard})
	if err != nil {
		f.Fatal(err)
	}
	var gotSpan trace.SpanContext
	var gotID string
	h := obs.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotSpan = trace.SpanContextFromContext(r.Context())
		gotID = observe.RequestID(r.Context())
		_ = baggage.FromContext(r.Context()).Members()
		obs.Logger().InfoContext(r.Context(), "fuzz")
	}))
	f.Fuzz(func(t *testing.T, id, traceparent, tracestate, bag string) {
		valid := observe.ValidRequestID(id)
		if valid != validID(id) {
			t.Fatalf("ValidRequestID(%q) = %v", id, valid)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["X-Request-Id"] = []string{id}
		r.Header["Traceparent"] = []string{traceparent}
		r.Header["Tracestate"] = []string{tracestate}
		r.Header["Baggage"] = []string{bag}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		echoed := w.Header().Get(observe.RequestIDHeader)
		if echoed != gotID || !validID(echoed) {
			t.Fatalf("echoed %q, handler saw %q", echoed, gotID)
		}
		if valid != (echoed == id) {
			t.Fatalf("incoming %q (valid %v) but echoed %q", id, valid, echoed)
		}
		if !gotSpan.IsValid() {
			t.Fatalf("no valid span for traceparent %q", traceparent)
		}
	})
}

// validID is the specification ValidRequestID implements, written the slow, obvious way.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:+/=", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
