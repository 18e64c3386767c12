package metering

import (
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends e encoded as a CloudEvents 1.0 JSON event to dst. It produces the
// same document as encoding/json would from the wire form (keys in the same order, meters
// sorted, strings escaped the same way except that HTML characters are left alone) without
// reflection: the spool, the JetStream and HTTP sinks encode every event, and this is most
// of their per-event cost.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	t := e.Time.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return dst, errors.New("metering: event time year outside [0,9999]")
	}
	dst = append(dst, `{"specversion":"1.0","id":"`...)
	dst = e.ID.appendText(dst)
	dst = append(dst, `","source":`...)
	dst = appendString(dst, e.Source)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, e.Type)
	if e.Consumer != "" {
		dst = append(dst, `,"subject":`...)
		dst = appendString(dst, e.Consumer)
	}
	dst = append(dst, `,"time":"`...)
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","datacontenttype":"application/json","data":{`...)
	n := len(dst)
	field := func(name string) {
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
	}
	str := func(name, v string) {
		if v != "" {
			field(name)
			dst = appendString(dst, v)
		}
	}
	num := func(name string, v int64) {
		if v != 0 {
			field(name)
			dst = strconv.AppendInt(dst, v, 10)
		}
	}
	str("operation", e.Operation)
	str("consumer", e.Consumer)
	str("key_id", e.KeyID)
	str("plan", e.Plan)
	num("status", int64(e.Status))
	num("latency_ns", int64(e.Latency))
	num("request_bytes", e.RequestBytes)
	num("response_bytes", e.ResponseBytes)
	if len(e.Units) > 0 {
		field("units")
		dst = appendUnits(dst, e.Units)
	}
	if e.TraceID.IsValid() {
		field("trace_id")
		dst = append(dst, '"')
		dst = appendHex(dst, e.TraceID[:])
		dst = append(dst, '"')
	}
	if e.SpanID.IsValid() {
		field("span_id")
		dst = append(dst, '"')
		dst = appendHex(dst, e.SpanID[:])
		dst = append(dst, '"')
	}
	str("idempotency_key", e.IdempotencyKey)
	return append(dst, '}', '}'), nil
}

func appendUnits(dst []byte, units map[string]int64) []byte {
	// Sorted like encoding/json, so an event always encodes to the same bytes; insertion
	// sort on the stack is cheapest for the handful of meters an event carries.
	var small [8]string
	keys := small[:0]
	for k := range units {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, units[k], 10)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// appendString appends s as a JSON string, escaping as encoding/json does (without its
// HTML escaping): control characters, quote and backslash, invalid UTF-8 as U+FFFD, and
// U+2028/U+2029 for JavaScript.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
