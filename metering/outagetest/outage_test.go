package outagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/natssink"
	"github.com/tollgate-dev/tollgate/metering/pgsink"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

func suffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// proxy starts a toxiproxy proxy to upstream on a free loopback port.
func proxy(t *testing.T, upstream string) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "outage-"+suffix(), "127.0.0.1:0", upstream)
	require.NoError(t, p.Start())
	t.Cleanup(p.Stop)
	return p
}

func hostPort(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Host
}

func withHost(t *testing.T, raw, host string) string {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.Host = host
	return u.String()
}

func sinkErrors(t *testing.T, r *sdkmetric.ManualReader) int64 {
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "tollgate.metering.sink.errors" {
				for _, p := range s.DataPoints {
					n += p.Value
				}
			}
		}
	}
	return n
}

// underOutage records events from several goroutines while the proxy goes down and comes
// back, then closes the meter and returns how many events were recorded.
func underOutage(t *testing.T, p *toxiproxy.Proxy, sink metering.Sink, delivered func() int) int {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := metering.New(metering.Config{Dir: t.TempDir(), Sink: sink, BatchSize: 200,
		FlushInterval: 10 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		WriteTimeout: time.Second, MeterProvider: mp})
	require.NoError(t, err)

	var recorded atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := m.Record(context.Background(), metering.Event{Consumer: "outage", Operation: "op",
					Status: 200, Units: map[string]int64{"calls": 1}}); err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				recorded.Add(1)
				if i%2 == 1 {
					time.Sleep(time.Millisecond) // a busy API, not a tight loop
				}
			}
		}()
	}
	require.Eventually(t, func() bool { return delivered() > 0 }, 30*time.Second, 10*time.Millisecond,
		"events flow before the outage")
	p.Stop()
	before := sinkErrors(t, reader)
	require.Eventually(t, func() bool { return sinkErrors(t, reader) >= before+3 }, 30*time.Second, 10*time.Millisecond,
		"the sink fails while its backend is unreachable")
	require.Eventually(t, func() bool { return m.Pending() >= 3000 }, 60*time.Second, 10*time.Millisecond,
		"events pile up in the spool during the outage")
	backlog := m.Pending()
	require.NoError(t, p.Start())
	close(stop)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))
	t.Logf("recorded %d events; outage ended with %d spooled; %d failed sink writes", recorded.Load(), backlog, sinkErrors(t, reader))
	return int(recorded.Load())
}

func TestPostgresOutage(t *testing.T) {
	base := tollgatetest.PostgresURL(t)
	p := proxy(t, hostPort(t, base))
	cfg, err := pgxpool.ParseConfig(withHost(t, base, p.Listen))
	require.NoError(t, err)
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	table := "tollgate_outage_" + suffix()
	sink, err := pgsink.New(pgsink.Config{Pool: pool, Table: table})
	require.NoError(t, err)
	require.NoError(t, sink.Migrate(context.Background()))

	direct, err := pgxpool.New(context.Background(), base) // the checker does not go through the proxy
	require.NoError(t, err)
	t.Cleanup(direct.Close)
	t.Cleanup(func() { _, _ = direct.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	count := func() int {
		var n int
		_ = direct.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n)
		return n
	}
	recorded := underOutage(t, p, sink, count)
	require.Equal(t, recorded, count(), "every recorded event is stored exactly once")
}

func TestJetStreamOutage(t *testing.T) {
	base := tollgatetest.NATSURL(t)
	p := proxy(t, hostPort(t, base))
	nc, err := nats.Connect(withHost(t, base, p.Listen), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(time.Second))
	require.NoError(t, err)

	directNC, err := nats.Connect(base)
	require.NoError(t, err)
	t.Cleanup(directNC.Close)
	direct, err := jetstream.New(directNC)
	require.NoError(t, err)
	sfx := suffix()
	subject := "tollgate.outage." + sfx
	st, err := natssink.EnsureStream(context.Background(), direct, natssink.StreamConfig{
		Name: "TOLLGATE_OUTAGE_" + strings.ToUpper(sfx), Subject: subject})
	require.NoError(t, err)
	t.Cleanup(func() { _ = direct.DeleteStream(context.Background(), st.CachedInfo().Config.Name) })
	sink, err := natssink.New(natssink.Config{JetStream: js, Subject: subject})
	require.NoError(t, err)
	count := func() int {
		info, err := st.Info(context.Background())
		if err != nil {
			return 0
		}
		return int(info.State.Msgs)
	}
	recorded := underOutage(t, p, sink, count)
	require.Equal(t, recorded, count(), "every recorded event is stored exactly once")
	evs, err := natssink.ReadAll(context.Background(), st)
	require.NoError(t, err)
	seen := map[metering.ID]bool{}
	for _, e := range evs {
		require.False(t, seen[e.ID], "duplicate %s", e.ID)
		seen[e.ID] = true
	}
}
