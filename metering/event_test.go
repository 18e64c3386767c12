package metering

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
)

func sampleEvent() Event {
	t := time.Date(2026, 5, 4, 3, 2, 1, 123456000, time.UTC)
	return Event{
		ID: NewID(t), Source: "//delivery.example.com", Type: DefaultType, Time: t,
		Operation: "createDelivery", Consumer: "acme", KeyID: "k1", Plan: "pro", Status: 201,
		Latency: 1500 * time.Microsecond, RequestBytes: 10, ResponseBytes: 20,
		Units:   map[string]int64{"deliveries": 1, "sms": 2},
		TraceID: trace.TraceID{0xab, 1}, SpanID: trace.SpanID{0xcd, 2}, IdempotencyKey: "k-1",
	}
}

func TestEventCloudEventsJSON(t *testing.T) {
	e := sampleEvent()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, "1.0", m["specversion"])
	assert.Equal(t, e.ID.String(), m["id"])
	assert.Equal(t, "acme", m["subject"], "the consumer is the CloudEvents subject")
	assert.Equal(t, "application/json", m["datacontenttype"])
	assert.Equal(t, "2026-05-04T03:02:01.123456Z", m["time"])
	data := m["data"].(map[string]any)
	assert.Equal(t, map[string]any{"deliveries": 1.0, "sms": 2.0}, data["units"])
	assert.Equal(t, e.TraceID.String(), data["trace_id"])

	got, err := DecodeEvent(b)
	require.NoError(t, err)
	assert.Equal(t, e, got)

	batch, err := EncodeBatch([]Event{e, e})
	require.NoError(t, err)
	evs, err := DecodeBatch(batch)
	require.NoError(t, err)
	assert.Equal(t, []Event{e, e}, evs)
}

func TestDecodeEventRejects(t *testing.T) {
	good := func() map[string]any {
		var m map[string]any
		b, _ := json.Marshal(sampleEvent())
		_ = json.Unmarshal(b, &m)
		return m
	}
	cases := map[string]func(m map[string]any){
		"spec version": func(m map[string]any) { m["specversion"] = "0.3" },
		"id":           func(m map[string]any) { m["id"] = "not-a-uuid" },
		"no source":    func(m map[string]any) { delete(m, "source") },
		"no time":      func(m map[string]any) { delete(m, "time") },
		"subject":      func(m map[string]any) { m["subject"] = "someone-else" },
		"trace id":     func(m map[string]any) { m["data"].(map[string]any)["trace_id"] = "zz" },
		"long string":  func(m map[string]any) { m["data"].(map[string]any)["plan"] = strings.Repeat("p", 2000) },
		"negative":     func(m map[string]any) { m["data"].(map[string]any)["latency_ns"] = -1 },
		"empty meter":  func(m map[string]any) { m["data"].(map[string]any)["units"] = map[string]any{"": 1} },
		"float units":  func(m map[string]any) { m["data"].(map[string]any)["units"] = map[string]any{"a": 1.5} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := good()
			mutate(m)
			b, _ := json.Marshal(m)
			_, err := DecodeEvent(b)
			assert.ErrorIs(t, err, ErrInvalidEvent)
		})
	}
	_, err := DecodeEvent([]byte(`{"specversion":"1.0"} {}`))
	assert.ErrorIs(t, err, ErrInvalidEvent, "trailing data")
}

func TestIDs(t *testing.T) {
	now := time.Now()
	a, b := NewID(now), NewID(now)
	assert.NotEqual(t, a, b)
	assert.Equal(t, byte(7), a[6]>>4, "UUIDv7")
	assert.False(t, a.Derived())
	p, err := ParseID(strings.ToUpper(a.String()))
	require.NoError(t, err)
	assert.Equal(t, a, p)
	later := NewID(now.Add(2 * time.Millisecond))
	assert.Less(t, a.String()[:13], later.String()[:13], "v7 ids sort by time")

	d := DeriveID("s", "alice", "op", "key")
	assert.Equal(t, d, DeriveID("s", "alice", "op", "key"), "stable")
	assert.True(t, d.Derived())
	assert.NotEqual(t, d, DeriveID("s", "bob", "op", "key"), "scoped to the consumer")
	assert.NotEqual(t, DeriveID("s", "ab", "c", "k"), DeriveID("s", "a", "bc", "k"), "fields are length-prefixed")
	for _, bad := range []string{"", "123", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g", "0190a1b2xc3d4-7e5f-8a9b-0c1d2e3f4a5b"} {
		_, err := ParseID(bad)
		assert.Error(t, err, bad)
	}
}

// wire is the encoding/json form of e, the reference AppendJSON must match.
func (e *Event) wire() wireEvent {
	w := wireEvent{
		SpecVersion: specVersion, ID: e.ID.String(), Source: e.Source, Type: e.Type,
		Subject: e.Consumer, Time: e.Time.UTC(), DataContentType: "application/json",
		Data: wireData{
			Operation: e.Operation, Consumer: e.Consumer, KeyID: e.KeyID, Plan: e.Plan,
			Status: e.Status, LatencyNS: int64(e.Latency), RequestBytes: e.RequestBytes,
			ResponseBytes: e.ResponseBytes, Units: e.Units, IdempotencyKey: e.IdempotencyKey,
		},
	}
	if e.TraceID.IsValid() {
		w.Data.TraceID = e.TraceID.String()
	}
	if e.SpanID.IsValid() {
		w.Data.SpanID = e.SpanID.String()
	}
	return w
}

func referenceJSON(t testing.TB, e Event) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e.wire()); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	cases := map[string]Event{
		"full":  sampleEvent(),
		"empty": {ID: NewID(time.Unix(0, 0)), Source: "s", Type: "t", Time: time.Unix(0, 0)},
		"escapes": {ID: NewID(time.Now()), Source: "<&>", Type: "t\"\\", Time: time.Now(),
			Consumer: "a\nb\x01\u2028\u2029\xff", Plan: "ünï", Units: map[string]int64{"z": 1, "a": -2, "m\"": 3}},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := e.MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, string(referenceJSON(t, e)), string(got))
		})
	}
	_, err := (&Event{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}).AppendJSON(nil)
	assert.Error(t, err)
}

func BenchmarkMarshalJSON(b *testing.B) {
	e := sampleEvent()
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf, _ = e.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(e.wire())
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	b, _ := json.Marshal(sampleEvent())
	f.Add(b)
	f.Add([]byte(`{"specversion":"1.0","id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","source":"s","type":"t","time":"2026-01-01T00:00:00Z","data":{}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"data":{"units":{"a":9223372036854775807}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := DecodeEvent(in)
		if err != nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged, so the spool and every sink
		// reproduce it exactly, and the hand-written encoder must agree with encoding/json.
		out, err := e.MarshalJSON() // not json.Marshal, which would HTML-escape the result
		if err != nil {
			t.Fatalf("marshal decoded event: %v", err)
		}
		if ref := referenceJSON(t, e); !bytes.Equal(ref, out) {
			t.Fatalf("AppendJSON differs from encoding/json:\n%s\n%s", out, ref)
		}
		again, err := DecodeEvent(out)
		if err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		if e.ID != again.ID || !e.Time.Equal(again.Time) || e.Consumer != again.Consumer || len(e.Units) != len(again.Units) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", e, again)
		}
		for k, n := range e.Units {
			if again.Units[k] != n {
				t.Fatalf("units changed")
			}
		}
	})
}

func TestBatchIDsAreUnique(t *testing.T) {
	evs := make([]Event, 10000)
	now := time.Now()
	for i := range evs {
		evs[i].Time = now
	}
	evs[5].ID = DeriveID("s", "c", "o", "k")
	fillRandomIDs(evs)
	seen := map[ID]bool{}
	for _, e := range evs {
		assert.Equal(t, byte(0x80), e.ID[8]&0xc0, "RFC 9562 variant")
		assert.False(t, seen[e.ID])
		seen[e.ID] = true
	}
	assert.Equal(t, DeriveID("s", "c", "o", "k"), evs[5].ID, "a set id is kept")
	assert.Equal(t, byte(7), evs[0].ID[6]>>4)
}
