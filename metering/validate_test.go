package metering

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
)

func TestRecordRefusesEventsDecodeWouldRefuse(t *testing.T) {
	t.Parallel()
	m, err := New(Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	long := strings.Repeat("x", maxStringSize+1)
	many := map[string]int64{}
	for i := range maxMeters + 1 {
		many[strings.Repeat("m", i+1)] = 1
	}
	for name, ev := range map[string]Event{
		"long idempotency key": {IdempotencyKey: long},
		"long consumer":        {Consumer: long},
		"long operation":       {Operation: long},
		"long meter name":      {Units: map[string]int64{long: 1}},
		"empty meter name":     {Units: map[string]int64{"": 1}},
		"too many meters":      {Units: many},
		"negative latency":     {Latency: -1},
		"negative bytes":       {RequestBytes: -1},
		"status over 999":      {Status: 1000},
		"year 10000":           {Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"invalid UTF-8":        {Consumer: "a\xffb"},
		"NUL in consumer":      {Consumer: "a\x00b"},
		"NUL in plan":          {Plan: "\x00"},
		"NUL in key id":        {KeyID: "k\x00"},
		"NUL in meter name":    {Units: map[string]int64{"a\x00": 1}},
		"invalid UTF-8 in key": {IdempotencyKey: "\xc3"},
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, m.Record(context.Background(), ev), ErrInvalidEvent)
		})
	}
	assert.NoError(t, m.Record(context.Background(), Event{Consumer: strings.Repeat("é", maxStringSize/2), Status: 999}))
}

// FuzzRecordAcceptedEventsDecode checks the property the spool relies on: whatever Record
// accepts, DecodeEvent accepts once encoded.
func FuzzRecordAcceptedEventsDecode(f *testing.F) {
	f.Add("op", "alice", "k1", "pro", "idem", "calls", int64(1), 200, int64(5), int64(10), int64(0))
	f.Add(strings.Repeat("\x01", 1024), "\u2028", "", "", strings.Repeat("é", 512), "m", int64(-1), 999, int64(0), int64(0), int64(253402300799))
	f.Add("a\xffb", "", "", "", "", "", int64(0), -1, int64(-1), int64(0), int64(-62135596800))
	m, err := New(Config{QueueSize: 1 << 20, FlushInterval: time.Hour})
	require.NoError(f, err)
	f.Cleanup(func() { _ = m.Close(context.Background()) })
	f.Fuzz(func(t *testing.T, op, consumer, keyID, plan, idem, meter string, units int64, status int, latency, reqBytes, unix int64) {
		ev := Event{
			Operation: op, Consumer: consumer, KeyID: keyID, Plan: plan, IdempotencyKey: idem,
			Units: map[string]int64{meter: units}, Status: status, Latency: time.Duration(latency),
			RequestBytes: reqBytes, Time: time.Unix(unix, 0),
		}
		if m.Record(context.Background(), ev) != nil {
			return
		}
		m.mu.Lock()
		got := m.buf[len(m.buf)-1]
		m.buf = m.buf[:0]
		m.mu.Unlock()
		m.complete(&got)
		got.ID = NewID(got.Time)
		b, err := got.MarshalJSON()
		require.NoError(t, err)
		back, err := DecodeEvent(b)
		require.NoError(t, err, "Record accepted %+v", got)
		assert.Equal(t, got.Consumer, back.Consumer)
		assert.Equal(t, got.IdempotencyKey, back.IdempotencyKey)
		// A lane that keeps up delivers sinkForm(got) without reading the spool; a lane
		// that replays delivers back. Sinks must not be able to tell.
		assert.Equal(t, back, sinkForm(got))
	})
}

func TestUndecodableSpoolRecordsAreAcknowledged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sp, err := openSpool(dir+"/spool/default", SyncBatch, 0)
	require.NoError(t, err)
	require.NoError(t, sp.append([][]byte{[]byte("not an event"), []byte(`{"specversion":"0.3"}`)}))
	require.NoError(t, sp.close())
	got := make(chan int, 16)
	m, err := New(Config{Dir: dir, Sink: SinkFunc(func(_ context.Context, evs []Event) error {
		got <- len(evs)
		return nil
	})})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Sync(ctx), "the lane must acknowledge records it skipped")
	require.NoError(t, m.Record(ctx, Event{Consumer: "alice"}))
	require.NoError(t, m.Sync(ctx))
	require.NoError(t, m.Close(ctx))
	assert.Equal(t, 1, <-got)
}

func TestMiddlewareMetersRequestsWithAnyIdempotencyKey(t *testing.T) {
	t.Parallel()
	got := make(chan Event, 16)
	m, err := New(Config{Dir: t.TempDir(), Sink: SinkFunc(func(_ context.Context, evs []Event) error {
		for _, e := range evs {
			got <- e
		}
		return nil
	})})
	require.NoError(t, err)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, key := range []string{strings.Repeat("k", 64<<10), "bad\xff\x00key"} {
		req := httptest.NewRequest(http.MethodPost, "/v1/things", nil)
		req = req.WithContext(auth.NewContext(req.Context(), &auth.Principal{Consumer: "alice"}))
		req.Header.Set("Idempotency-Key", key)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Sync(ctx))
	require.NoError(t, m.Close(ctx))
	require.Len(t, got, 2)
	for range 2 {
		e := <-got
		assert.NotEmpty(t, e.IdempotencyKey)
		assert.NoError(t, checkString(e.IdempotencyKey))
	}
}

func TestAsciiFlagsAgreesWithTheExactCheck(t *testing.T) {
	t.Parallel()
	// Every position of a word and of the tail, with each byte that matters.
	for n := 1; n <= 19; n++ {
		for i := range n {
			for _, c := range []byte{0x00, 0x01, 0x7f, 0x80, 0xc3, 0xff} {
				b := []byte(strings.Repeat("a", n))
				b[i] = c
				s := string(b)
				exact := utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
				assert.Equal(t, exact, checkString(s) == nil, "%q", s)
				if asciiFlags(s)&highs == 0 {
					assert.True(t, exact, "%q passed the fast check", s)
				}
			}
		}
	}
}

func FuzzCheckString(f *testing.F) {
	f.Add("createDelivery")
	f.Add("a\x00b")
	f.Add("é\xff")
	f.Add(strings.Repeat("x", maxStringSize+1))
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) <= maxStringSize && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
		assert.Equal(t, want, checkString(s) == nil)
		ev := Event{Consumer: s}
		assert.Equal(t, want, ev.validate() == nil)
	})
}

func TestMeterNamesAreCheckedWhereDeclared(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "a\x00", "\xff", strings.Repeat("m", maxStringSize+1)} {
		assert.Panics(t, func() { Units(name, 1) }, "%q", name)
	}
	assert.NotPanics(t, func() { Units("sms", 1) })

	// A name Add cannot keep is recorded under its digest, never refused.
	got := make(chan Event, 1)
	m, err := New(Config{Sink: SinkFunc(func(_ context.Context, evs []Event) error {
		for _, e := range evs {
			got <- e
		}
		return nil
	})})
	require.NoError(t, err)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Add("sms\x00", 2)
		FromContext(r.Context()).Add("sms", 1)
		w.WriteHeader(http.StatusNoContent)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/v1/send", nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))
	e := <-got
	assert.Equal(t, map[string]int64{"sms": 1, boundAttr("sms\x00"): 2}, e.Units)
	assert.NoError(t, validUnits(e.Units))
}
