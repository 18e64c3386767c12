package metering_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/meteringtest"
)

// ingest is a CloudEvents batch receiver that, like OpenMeter, deduplicates on the id.
type ingest struct {
	mu     sync.Mutex
	events map[metering.ID]metering.Event
	calls  atomic.Int32
	fail   func(call int32, w http.ResponseWriter) bool
}

func (in *ingest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := in.calls.Add(1)
	if in.fail != nil && in.fail(n, w) {
		return
	}
	if r.Header.Get("Content-Type") != metering.ContentTypeBatch || r.Header.Get("Authorization") != "Bearer t0ken" {
		http.Error(w, "bad request headers", http.StatusBadRequest)
		return
	}
	b, _ := io.ReadAll(r.Body)
	evs, err := metering.DecodeBatch(b)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in.mu.Lock()
	for _, e := range evs {
		in.events[e.ID] = e
	}
	in.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (in *ingest) read(context.Context) ([]metering.Event, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]metering.Event, 0, len(in.events))
	for _, e := range in.events {
		out = append(out, e)
	}
	return out, nil
}

func newHTTPSink(t *testing.T, in *ingest) *metering.HTTPSink {
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	s, err := metering.NewHTTPSink(metering.HTTPSinkConfig{URL: srv.URL + "/api/v1/events", Client: srv.Client(),
		Header: http.Header{"Authorization": {"Bearer t0ken"}}, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	require.NoError(t, err)
	return s
}

func TestHTTPSinkConformance(t *testing.T) {
	t.Parallel()
	meteringtest.RunSink(t, func(t *testing.T) meteringtest.Target {
		in := &ingest{events: map[metering.ID]metering.Event{}}
		return meteringtest.Target{Sink: newHTTPSink(t, in), Read: in.read}
	})
}

func TestHTTPSinkRetryPolicy(t *testing.T) {
	t.Parallel()
	evs := meteringtest.Events(3, "c", time.Now())
	cases := []struct {
		name      string
		fail      func(call int32, w http.ResponseWriter) bool
		wantErr   bool
		wantCalls int32
	}{
		{"503 then success", func(n int32, w http.ResponseWriter) bool {
			if n <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		}, false, 3},
		{"429 with Retry-After", func(n int32, w http.ResponseWriter) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		}, false, 2},
		{"Retry-After beyond the cap is left to the Meter", func(n int32, w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}, true, 1},
		{"400 is not retried", func(n int32, w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusBadRequest)
			return true
		}, true, 1},
		{"attempts are bounded", func(n int32, w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}, true, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := &ingest{events: map[metering.ID]metering.Event{}, fail: tc.fail}
			err := newHTTPSink(t, in).Write(context.Background(), evs)
			if tc.wantErr {
				var se *metering.HTTPStatusError
				assert.ErrorAs(t, err, &se)
			} else {
				require.NoError(t, err)
				got, _ := in.read(context.Background())
				assert.Len(t, got, 3)
			}
			assert.Equal(t, tc.wantCalls, in.calls.Load())
		})
	}
	_, err := metering.NewHTTPSink(metering.HTTPSinkConfig{URL: "ftp://x"})
	assert.Error(t, err)
}

func TestHTTPSinkLogValueHidesHeaders(t *testing.T) {
	t.Parallel()
	s, err := metering.NewHTTPSink(metering.HTTPSinkConfig{URL: "https://ingest.example.com/api/v1/events",
		Header: http.Header{"Authorization": {"Bearer secret"}}})
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("sink", "sink", s)
	assert.NotContains(t, buf.String(), "secret")
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestLogSinkConformance(t *testing.T) {
	t.Parallel()
	meteringtest.RunSink(t, func(t *testing.T) meteringtest.Target {
		buf := &syncBuffer{}
		sink := &metering.LogSink{Logger: slog.New(slog.NewJSONHandler(buf, nil))}
		read := func(context.Context) ([]metering.Event, error) {
			buf.mu.Lock()
			defer buf.mu.Unlock()
			var out []metering.Event
			sc := bufio.NewScanner(bytes.NewReader(buf.b.Bytes()))
			for sc.Scan() {
				var rec struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					return nil, err
				}
				id, err := metering.ParseID(rec.ID)
				if err != nil {
					return nil, err
				}
				out = append(out, metering.Event{ID: id})
			}
			return out, nil
		}
		return meteringtest.Target{Sink: sink, Read: read, NoDedupe: true, Partial: true}
	})
}

func TestMetricsSink(t *testing.T) {
	t.Parallel()
	reader, mp := manualReader(t)
	s, err := metering.NewMetricsSink(metering.MetricsSinkConfig{MeterProvider: mp})
	require.NoError(t, err)
	require.NoError(t, s.Write(context.Background(), meteringtest.Events(6, "c", time.Now())))
	assert.EqualValues(t, 6, counter(t, reader, "tollgate.usage.requests"))
	assert.EqualValues(t, 6+(0+1+2+0+1+2), counter(t, reader, "tollgate.usage.units"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Error(t, s.Write(ctx, nil))
}
