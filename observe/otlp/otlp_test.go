package otlp_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tollgate-dev/tollgate/observe"
	"github.com/tollgate-dev/tollgate/observe/otlp"
)

// collector is a real OTLP/gRPC endpoint on loopback that keeps what it receives.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	colmetricpb.UnimplementedMetricsServiceServer
	mu      sync.Mutex
	spans   []string // span names
	service []string // service.name of each span's resource
	metrics []string // metric names
	apiKeys []string // the api-key header of each export
}

func (c *collector) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.header(ctx)
	for _, rs := range req.ResourceSpans {
		svc := ""
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == "service.name" {
				svc = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans = append(c.spans, s.Name)
				c.service = append(c.service, svc)
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (c *collector) header(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	c.apiKeys = append(c.apiKeys, md.Get("api-key")...)
}

type metricsServer struct{ *collector }

func (m metricsServer) Export(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.header(ctx)
	for _, rm := range req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, x := range sm.Metrics {
				m.metrics = append(m.metrics, x.Name)
			}
		}
	}
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := &collector{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, c)
	colmetricpb.RegisterMetricsServiceServer(srv, metricsServer{c})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return c, ln.Addr().String()
}

func TestExportsToCollector(t *testing.T) {
	t.Parallel()
	col, addr := startCollector(t)
	ctx := context.Background()
	exp, err := otlp.New(ctx, otlp.Config{
		Endpoint: addr, Insecure: true, Headers: map[string]string{"api-key": "k-123"},
		Timeout: 5 * time.Second, MetricInterval: time.Hour,
	})
	require.NoError(t, err)
	cfg := observe.Config{Service: "delivery", LogWriter: discard{}}
	exp.Apply(&cfg)
	obs, err := observe.New(ctx, cfg)
	require.NoError(t, err)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	obs.Handler(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/items/1", nil))
	// Shutdown flushes: the batched span and the metrics (the interval is an hour) arrive now.
	require.NoError(t, obs.Shutdown(ctx))

	col.mu.Lock()
	defer col.mu.Unlock()
	assert.Equal(t, []string{"GET /items/{id}"}, col.spans)
	assert.Equal(t, []string{"delivery"}, col.service)
	assert.Contains(t, col.metrics, "http.server.requests")
	assert.Contains(t, col.metrics, "http.server.request.duration")
	assert.NotEmpty(t, col.apiKeys)
	for _, k := range col.apiKeys {
		assert.Equal(t, "k-123", k)
	}
}

func TestSignalsCanBeLeftOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := otlp.New(ctx, otlp.Config{Endpoint: "127.0.0.1:1", Insecure: true, NoMetrics: true})
	require.NoError(t, err, "dialling is lazy")
	assert.NotNil(t, e.Spans)
	assert.Nil(t, e.Metrics)
	var cfg observe.Config
	e.Apply(&cfg)
	assert.Len(t, cfg.SpanExporters, 1)
	assert.Empty(t, cfg.MetricReaders)
	require.NoError(t, e.Spans.Shutdown(ctx))

	_, err = otlp.New(ctx, otlp.Config{NoTraces: true, NoMetrics: true})
	require.Error(t, err)
	_, err = otlp.New(ctx, otlp.Config{Timeout: -time.Second})
	require.Error(t, err)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestConfigRedactsHeaders(t *testing.T) {
	t.Parallel()
	cfg := otlp.Config{Endpoint: "collector:4317", Headers: map[string]string{"api-key": "k-secret-123"}}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("exporting", "otlp", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), buf.String()} {
		assert.NotContains(t, s, "k-secret-123")
		assert.Contains(t, s, "api-key=REDACTED")
		assert.Contains(t, s, "collector:4317")
	}
}
