package metering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// CloudEvents attributes of the events this package produces.
const (
	// DefaultSource is the CloudEvents "source" when Config.Source is empty.
	DefaultSource = "tollgate"
	// DefaultType is the CloudEvents "type" of an API request event.
	DefaultType = "dev.tollgate.api.request"
	// ContentTypeBatch is the media type of a JSON array of CloudEvents.
	ContentTypeBatch = "application/cloudevents-batch+json"
	specVersion      = "1.0"
)

// Event is one metered call: who called what, when, how it ended and how many units of each
// meter it consumed. It encodes as a CloudEvents 1.0 JSON event (see MarshalJSON), with the
// consumer as the CloudEvents subject and the rest under "data".
type Event struct {
	// ID is unique per event and stable across redelivery; zero means Record assigns one.
	ID ID
	// Source and Type are the CloudEvents attributes; empty means Config.Source and
	// DefaultType.
	Source string
	Type   string
	// Time is when the call happened; zero means the time Record was called. It is kept
	// in UTC at microsecond precision, the precision every sink stores.
	Time time.Time
	// Operation is the OpenAPI operation id (or route pattern for net/http).
	Operation string
	// Consumer, KeyID and Plan identify who pays; empty means taken from the
	// auth.Principal in the context passed to Record.
	Consumer string
	KeyID    string
	Plan     string
	// Status is the HTTP status of the response.
	Status int
	// Latency is how long the handler took.
	Latency time.Duration
	// RequestBytes and ResponseBytes are body sizes.
	RequestBytes  int64
	ResponseBytes int64
	// Units maps a meter name to the units consumed ("deliveries": 1, "sms": 2). Units are
	// integers: meter in the smallest unit you bill (bytes, milliseconds, messages).
	Units map[string]int64
	// TraceID and SpanID link the event to the request's trace; zero means taken from the
	// span in the context passed to Record.
	TraceID trace.TraceID
	SpanID  trace.SpanID
	// IdempotencyKey is the request's Idempotency-Key header, if any.
	IdempotencyKey string
}

// wireEvent is the CloudEvents 1.0 JSON structured form.
type wireEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject,omitempty"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            wireData  `json:"data"`
}

type wireData struct {
	Operation      string           `json:"operation,omitempty"`
	Consumer       string           `json:"consumer,omitempty"`
	KeyID          string           `json:"key_id,omitempty"`
	Plan           string           `json:"plan,omitempty"`
	Status         int              `json:"status,omitempty"`
	LatencyNS      int64            `json:"latency_ns,omitempty"`
	RequestBytes   int64            `json:"request_bytes,omitempty"`
	ResponseBytes  int64            `json:"response_bytes,omitempty"`
	Units          map[string]int64 `json:"units,omitempty"`
	TraceID        string           `json:"trace_id,omitempty"`
	SpanID         string           `json:"span_id,omitempty"`
	IdempotencyKey string           `json:"idempotency_key,omitempty"`
}

// MarshalJSON encodes e as a CloudEvents 1.0 structured-mode JSON event.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 512))
}

// UnmarshalJSON decodes a CloudEvents event produced by MarshalJSON; see DecodeEvent.
func (e *Event) UnmarshalJSON(b []byte) error {
	ev, err := DecodeEvent(b)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// ErrInvalidEvent is returned (wrapped) by DecodeEvent for input that is not a usage event.
var ErrInvalidEvent = errors.New("metering: invalid event")

// Limits on decoded events: they keep one hostile event from costing more than a few KB.
const (
	maxMeters     = 64
	maxStringSize = 1024
)

// DecodeEvent parses one CloudEvents 1.0 JSON usage event, as written by Event.MarshalJSON,
// the spool and every sink. It is the parser for untrusted input (events read back from
// disk, from a queue or posted by another service): it checks the spec version, the id,
// source and type, and bounds the number of meters and the length of every string.
// Unknown CloudEvents extension attributes are ignored.
func DecodeEvent(b []byte) (Event, error) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&w); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if dec.More() {
		return Event{}, fmt.Errorf("%w: trailing data", ErrInvalidEvent)
	}
	return w.event()
}

func (w *wireEvent) event() (Event, error) {
	bad := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidEvent}, args...)...)
	}
	if w.SpecVersion != specVersion {
		return bad("specversion %q, want %q", w.SpecVersion, specVersion)
	}
	id, err := ParseID(w.ID)
	if err != nil {
		return bad("id %q is not a UUID", w.ID)
	}
	if w.Source == "" || w.Type == "" {
		return bad("source and type are required")
	}
	if w.Time.IsZero() {
		return bad("time is required")
	}
	d := &w.Data
	if w.Subject != "" && d.Consumer != "" && w.Subject != d.Consumer {
		return bad("subject %q and data.consumer %q differ", w.Subject, d.Consumer)
	}
	if err := checkString(w.Subject); err != nil {
		return Event{}, err
	}
	e := Event{
		ID: id, Source: w.Source, Type: w.Type, Time: w.Time.UTC(), Operation: d.Operation,
		Consumer: d.Consumer, KeyID: d.KeyID, Plan: d.Plan, Status: d.Status,
		Latency: time.Duration(d.LatencyNS), RequestBytes: d.RequestBytes,
		ResponseBytes: d.ResponseBytes, IdempotencyKey: d.IdempotencyKey,
	}
	if e.Consumer == "" {
		e.Consumer = w.Subject
	}
	if len(d.Units) > 0 {
		e.Units = d.Units
	}
	if err := e.validate(); err != nil {
		return Event{}, err
	}
	if d.TraceID != "" {
		if e.TraceID, err = trace.TraceIDFromHex(d.TraceID); err != nil {
			return bad("trace_id: %v", err)
		}
	}
	if d.SpanID != "" {
		if e.SpanID, err = trace.SpanIDFromHex(d.SpanID); err != nil {
			return bad("span_id: %v", err)
		}
	}
	return e, nil
}

// DecodeBatch parses a JSON array of CloudEvents (application/cloudevents-batch+json).
func DecodeBatch(b []byte) ([]Event, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: batch: %v", ErrInvalidEvent, err)
	}
	out := make([]Event, 0, len(raw))
	for i, r := range raw {
		e, err := DecodeEvent(r)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// EncodeBatch encodes events as a JSON array of CloudEvents.
func EncodeBatch(events []Event) ([]byte, error) {
	b := make([]byte, 0, 512*len(events)+2)
	b = append(b, '[')
	for i := range events {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = events[i].AppendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// Billable reports whether the event carries any non-zero units.
func (e *Event) Billable() bool {
	for _, n := range e.Units {
		if n != 0 {
			return true
		}
	}
	return false
}
