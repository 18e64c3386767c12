package observe_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-dev/tollgate/observe"
)

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestPropagation(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	var member string
	var handlerSpan trace.SpanContext
	h := rg.obs.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		member = baggage.FromContext(r.Context()).Member("tenant").Value()
		handlerSpan = trace.SpanContextFromContext(r.Context())
	}))
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("traceparent", parent)
	r.Header.Set("baggage", "tenant=acme")
	serve(h, r)

	spans := rg.ended()
	require.Len(t, spans, 1)
	s := spans[0]
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", s.SpanContext().TraceID().String())
	assert.Equal(t, "00f067aa0ba902b7", s.Parent().SpanID().String())
	assert.True(t, s.Parent().IsRemote())
	assert.Equal(t, trace.SpanKindServer, s.SpanKind())
	assert.Equal(t, s.SpanContext().SpanID(), handlerSpan.SpanID(), "the handler runs inside the server span")
	assert.Equal(t, "acme", member)
}

func TestPropagationIgnoresMalformedParent(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")
	serve(rg.obs.Handler(http.NotFoundHandler()), r)
	spans := rg.ended()
	require.Len(t, spans, 1)
	assert.False(t, spans[0].Parent().IsValid(), "an all-zero trace id starts a new trace")
	assert.True(t, spans[0].SpanContext().IsValid())
}

func TestSpanAndMetricNames(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/any/{rest...}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	api := humago.New(mux, huma.DefaultConfig("t", "1"))
	api.UseMiddleware(rg.obs.Huma(api))
	huma.Get(api, "/widgets/{id}", func(ctx context.Context, in *struct {
		ID string `path:"id"`
	}) (*struct{}, error) {
		return nil, nil
	}, func(o *huma.Operation) { o.OperationID = "getWidget" })
	h := rg.obs.Handler(mux)

	cases := []struct {
		method, path, span, route, op, class string
		status                               int
	}{
		{"GET", "/items/42", "GET /items/{id}", "/items/{id}", "GET /items/{id}", "2xx", 200},
		{"PUT", "/any/a/b", "PUT /any/{rest...}", "/any/{rest...}", "/any/{rest...}", "4xx", 418},
		{"POST", "/fail", "POST /fail", "/fail", "POST /fail", "5xx", 502},
		{"GET", "/widgets/7", "getWidget", "/widgets/{id}", "getWidget", "2xx", 204},
		{"GET", "/nowhere/at/all", "GET", "", observe.Unmatched, "4xx", 404},
	}
	for _, c := range cases {
		w := serve(h, httptest.NewRequest(c.method, c.path, nil))
		require.Equal(t, c.status, w.Code, c.path)
	}
	spans := rg.ended()
	require.Len(t, spans, len(cases))
	requests := rg.counts(t, "http.server.requests")
	durations := rg.counts(t, "http.server.request.duration")
	for i, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			s := spans[i]
			assert.Equal(t, c.span, s.Name())
			attrs := map[string]any{}
			for _, kv := range s.Attributes() {
				attrs[string(kv.Key)] = kv.Value.AsInterface()
			}
			assert.Equal(t, int64(c.status), attrs["http.response.status_code"])
			assert.Equal(t, c.method, attrs["http.request.method"])
			assert.Equal(t, c.path, attrs["url.path"])
			assert.Equal(t, c.route, attrs["http.route"])
			assert.Equal(t, int64(1), requests[c.op+"|"+c.class])
			assert.Equal(t, int64(1), durations[c.op+"|"+c.class])
		})
	}
	assert.Len(t, requests, len(cases), "no series beyond operation × status class: %v", requests)
	assert.Equal(t, map[string]int64{"POST /fail|": 1}, rg.counts(t, "http.server.errors"))
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, incoming string
		adopted        bool
	}{
		{"absent", "", false},
		{"uuid", "3f2b8c1e-9a4d-4e21-8b7f-2c6d1a0e5f93", true},
		{"trace id", "4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"base64", "YWJj+/d=", true},
		{"max length", string(make128('a')), true},
		{"too long", string(make128('a')) + "a", false},
		{"space", "abc def", false},
		{"newline injection", "abc\nlevel=ERROR", false},
		{"quote", `abc"`, false},
		{"non-ascii", "abcé", false},
		{"header smuggling", "a\r\nSet-Cookie: x=1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rg := newRig(t)
			var seen string
			h := rg.obs.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = observe.RequestID(r.Context())
				rg.obs.Logger().InfoContext(r.Context(), "inside")
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if c.incoming != "" {
				r.Header["X-Request-Id"] = []string{c.incoming}
			}
			w := serve(h, r)
			got := w.Header().Get(observe.RequestIDHeader)
			assert.Equal(t, seen, got, "the echoed id is the one the handler sees")
			assert.Equal(t, c.adopted, observe.ValidRequestID(c.incoming))
			if c.adopted {
				assert.Equal(t, c.incoming, got)
			} else {
				assert.Regexp(t, generatedID, got)
			}
			lines := rg.logLines(t)
			require.Len(t, lines, 1)
			assert.Equal(t, got, lines[0]["request_id"])
			assert.Equal(t, rg.ended()[0].SpanContext().TraceID().String(), lines[0]["trace_id"])
			assert.Equal(t, rg.ended()[0].SpanContext().SpanID().String(), lines[0]["span_id"])
		})
	}
}

func make128(c byte) []byte {
	b := make([]byte, 128)
	for i := range b {
		b[i] = c
	}
	return b
}

func TestGeneratedRequestIDsDiffer(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	h := rg.obs.Handler(http.NotFoundHandler())
	seen := map[string]bool{}
	for range 100 {
		id := serve(h, httptest.NewRequest(http.MethodGet, "/", nil)).Header().Get(observe.RequestIDHeader)
		require.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		w.Header().Set("Set-Cookie", "session=half-made")
		panic("secret database password")
	})
	api := humago.New(mux, huma.DefaultConfig("t", "1"))
	api.UseMiddleware(rg.obs.Huma(api))
	huma.Get(api, "/huma-boom", func(ctx context.Context, _ *struct{}) (*struct{}, error) {
		panic("secret token")
	}, func(o *huma.Operation) { o.OperationID = "humaBoom" })
	h := rg.obs.Handler(mux)

	for _, c := range []struct{ path, op, secret string }{
		{"/boom", "GET /boom", "secret database password"},
		{"/huma-boom", "humaBoom", "secret token"},
	} {
		t.Run(c.path, func(t *testing.T) {
			w := serve(h, httptest.NewRequest(http.MethodGet, c.path, nil))
			require.Equal(t, http.StatusInternalServerError, w.Code)
			assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			assert.NotContains(t, w.Body.String(), "secret")
			assert.NotContains(t, w.Body.String(), "goroutine")
			var body map[string]any
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
			assert.EqualValues(t, 500, body["status"])
			assert.NotEmpty(t, w.Header().Get(observe.RequestIDHeader))
			assert.Empty(t, w.Header().Get("Set-Cookie"), "headers of the abandoned response are dropped")
			assert.Empty(t, w.Header().Get("Content-Length"))
		})
	}
	lines := rg.logLines(t)
	require.Len(t, lines, 2)
	spans := rg.ended()
	for i, line := range lines {
		assert.Equal(t, "panic serving request", line["msg"])
		assert.Equal(t, "ERROR", line["level"])
		assert.Equal(t, spans[i].SpanContext().TraceID().String(), line["trace_id"])
		assert.Contains(t, line["stack"], "goroutine", "the log keeps the stack the response withholds")
	}
	assert.Equal(t, map[string]int64{"GET /boom|": 1, "humaBoom|": 1}, rg.counts(t, "http.server.panics"))
	assert.Equal(t, map[string]int64{"GET /boom|": 1, "humaBoom|": 1}, rg.counts(t, "http.server.errors"))
}

func TestPanicAfterWriteAbortsConnection(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	srv := httptest.NewServer(rg.obs.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic("late")
	})))
	defer srv.Close()
	srv.Config.ErrorLog = nil
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err, "headers were sent before the panic")
	_, err = readAll(resp)
	assert.Error(t, err, "the body must end in an error, not look complete")
	require.Eventually(t, func() bool { return len(rg.ended()) == 1 }, testTimeout, tick)
	assert.Equal(t, map[string]int64{observe.Unmatched + "|5xx": 1}, rg.counts(t, "http.server.requests"))
}

// TestRoutesThroughCopyingMiddleware: middleware between Handler and the mux copies the
// request, so only Routes brings the matched pattern back.
func TestRoutesThroughCopyingMiddleware(t *testing.T) {
	t.Parallel()
	copying := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			type k struct{}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), k{}, 1)))
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { panic("x") })
	for _, c := range []struct {
		name  string
		inner http.Handler
		span  string
	}{
		{"without Routes", mux, "GET"},
		{"with Routes", observe.Routes(mux), "GET /items/{id}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rg := newRig(t)
			h := rg.obs.Handler(copying(c.inner))
			serve(h, httptest.NewRequest(http.MethodGet, "/items/1", nil))
			serve(h, httptest.NewRequest(http.MethodGet, "/boom", nil))
			require.Len(t, rg.ended(), 2)
			assert.Equal(t, c.span, rg.ended()[0].Name())
			if c.span != "GET" {
				assert.Equal(t, "GET /boom", rg.ended()[1].Name(), "the pattern survives a panic")
			}
		})
	}
}

func TestResponseWriterPassThrough(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	content := strings.Repeat("x", 64<<10)
	srv := httptest.NewServer(rg.obs.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, isReaderFrom := w.(io.ReaderFrom)
		_, isFlusher := w.(http.Flusher)
		_, isHijacker := w.(http.Hijacker)
		assert.True(t, isReaderFrom && isFlusher && isHijacker)
		require.NoError(t, http.NewResponseController(w).EnableFullDuplex(), "reachable through Unwrap")
		http.ServeContent(w, r, "x.txt", time.Time{}, strings.NewReader(content))
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	body, err := readAll(resp)
	require.NoError(t, err)
	assert.Equal(t, content, string(body))
	require.Eventually(t, func() bool { return len(rg.ended()) == 1 }, testTimeout, tick)
	assert.Equal(t, map[string]int64{observe.Unmatched + "|2xx": 1}, rg.counts(t, "http.server.requests"))
}

func TestServeRefusesTLSConfigWithoutCertificates(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	err = rg.obs.ServeListener(context.Background(), &http.Server{TLSConfig: &tls.Config{}}, ln)
	require.Error(t, err, "never plaintext when TLS was asked for")
}

func TestFilterSkipsInstrumentation(t *testing.T) {
	t.Parallel()
	rg := newRig(t, func(c *observe.Config) {
		c.Filter = func(r *http.Request) bool { return r.URL.Path != "/livez" }
	})
	mux := http.NewServeMux()
	rg.obs.Mount(mux)
	h := rg.obs.Handler(mux)
	w := serve(h, httptest.NewRequest(http.MethodGet, "/livez", nil))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Empty(t, w.Header().Get(observe.RequestIDHeader))
	serve(h, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Len(t, rg.ended(), 1)
	assert.Equal(t, "GET /readyz", rg.ended()[0].Name())
	assert.Equal(t, map[string]int64{"GET /readyz|2xx": 1}, rg.counts(t, "http.server.requests"))
}

func TestHijackIsCountedAsSwitchingProtocols(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	srv := httptest.NewServer(rg.obs.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if !assert.NoError(t, err) {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = rw.Flush()
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Eventually(t, func() bool { return len(rg.ended()) == 1 }, testTimeout, tick)
	assert.Equal(t, map[string]int64{observe.Unmatched + "|1xx": 1}, rg.counts(t, "http.server.requests"))
}
