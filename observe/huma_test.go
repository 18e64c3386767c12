package observe_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"

	"github.com/tollgate-dev/tollgate/observe"
)

// TestHumaAlone covers huma served without Handler around its router: the middleware does
// the whole job through huma.Context.
func TestHumaAlone(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	_, api := humatest.New(t)
	api.UseMiddleware(rg.obs.Huma(api))
	var member, id string
	huma.Get(api, "/orders/{id}", func(ctx context.Context, _ *struct {
		ID string `path:"id"`
	}) (*struct{}, error) {
		member = baggage.FromContext(ctx).Member("tenant").Value()
		id = observe.RequestID(ctx)
		rg.obs.Logger().InfoContext(ctx, "order read")
		return nil, huma.Error404NotFound("no such order")
	}, func(o *huma.Operation) { o.OperationID = "getOrder" })
	huma.Get(api, "/explode", func(ctx context.Context, _ *struct{}) (*struct{}, error) {
		panic("kaboom")
	}, func(o *huma.Operation) { o.OperationID = "explode" })

	resp := api.Get("/orders/9", "traceparent: "+parent, "baggage: tenant=acme", "X-Request-ID: req-1")
	require.Equal(t, http.StatusNotFound, resp.Code)
	assert.Equal(t, "req-1", resp.Header().Get(observe.RequestIDHeader))
	assert.Equal(t, "req-1", id)
	assert.Equal(t, "acme", member)

	resp = api.Get("/explode", "X-Request-ID: bad id")
	require.Equal(t, http.StatusInternalServerError, resp.Code)
	assert.NotContains(t, resp.Body.String(), "kaboom")
	assert.Regexp(t, generatedID, resp.Header().Get(observe.RequestIDHeader))

	spans := rg.ended()
	require.Len(t, spans, 2)
	assert.Equal(t, "getOrder", spans[0].Name())
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", spans[0].SpanContext().TraceID().String())
	assert.Equal(t, "explode", spans[1].Name())
	assert.Equal(t, map[string]int64{"getOrder|4xx": 1, "explode|5xx": 1}, rg.counts(t, "http.server.requests"))
	assert.Equal(t, map[string]int64{"explode|": 1}, rg.counts(t, "http.server.panics"))
	lines := rg.logLines(t)
	require.Len(t, lines, 2)
	assert.Equal(t, "req-1", lines[0]["request_id"])
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", lines[0]["trace_id"])
}

func TestHumaPanicAfterStreamingStarted(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("t", "1"))
	api.UseMiddleware(rg.obs.Huma(api))
	huma.Get(api, "/stream", func(ctx context.Context, _ *struct{}) (*huma.StreamResponse, error) {
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			hctx.SetStatus(http.StatusOK)
			_, _ = hctx.BodyWriter().Write([]byte("first chunk\n"))
			hctx.BodyWriter().(http.Flusher).Flush()
			panic("mid-stream")
		}}, nil
	}, func(o *huma.Operation) { o.OperationID = "stream" })
	srv := httptest.NewServer(rg.obs.Handler(mux))
	defer srv.Close()
	srv.Config.ErrorLog = nil
	resp, err := srv.Client().Get(srv.URL + "/stream")
	require.NoError(t, err)
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	assert.Equal(t, "first chunk\n", line)
	_, err = readAll(resp)
	assert.Error(t, err, "the stream ends in an error, not a clean EOF")
	require.Eventually(t, func() bool { return len(rg.ended()) == 1 }, testTimeout, tick)
	assert.Equal(t, map[string]int64{"stream|": 1}, rg.counts(t, "http.server.panics"))
	assert.Equal(t, map[string]int64{"stream|5xx": 1}, rg.counts(t, "http.server.requests"))
}
