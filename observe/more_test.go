package observe_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tollgate-dev/tollgate/observe"
)

func TestAccessorsReturnSuppliedProviders(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	mp := sdkmetric.NewMeterProvider()
	prop := propagation.TraceContext{}
	obs, err := observe.New(context.Background(), observe.Config{
		TracerProvider: tp, MeterProvider: mp, Propagator: prop, LogWriter: io.Discard,
	})
	require.NoError(t, err)
	assert.Same(t, tp, obs.TracerProvider())
	assert.Same(t, mp, obs.MeterProvider())
	assert.Equal(t, prop, obs.Propagator())
	require.NoError(t, obs.Shutdown(context.Background()))
	_, span := tp.Tracer("t").Start(context.Background(), "after")
	assert.True(t, span.IsRecording(), "a supplied provider is not shut down by the Observer")

	def, err := observe.New(context.Background(), observe.Config{LogWriter: io.Discard})
	require.NoError(t, err)
	assert.IsType(t, &sdktrace.TracerProvider{}, def.TracerProvider())
	assert.IsType(t, &sdkmetric.MeterProvider{}, def.MeterProvider())
	require.NoError(t, def.Shutdown(context.Background()))
	_, span = def.TracerProvider().Tracer("t").Start(context.Background(), "after")
	assert.False(t, span.IsRecording(), "an owned provider is shut down")
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

// TestHumaPanicAfterStreamingStarted: once a streamed huma response has begun, the only
// honest answer to a panic is to abort the connection.
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

func TestServeOnAddr(t *testing.T) {
	t.Parallel()
	rg := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- rg.obs.Serve(ctx, &http.Server{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler()})
	}()
	require.Eventually(t, func() bool { return strings.Contains(rg.logs.String(), `"msg":"serving","addr":"127.0.0.1:`) },
		testTimeout, tick)
	cancel()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return")
	}
}
