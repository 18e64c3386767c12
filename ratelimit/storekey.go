package ratelimit

import (
	"context"
	"net/http"
	"net/netip"
	"reflect"

	"github.com/tollgate-dev/tollgate/auth"
)

// keyKind names the built-in key functions, which the limiter evaluates inline: a user's
// KeyFunc may keep the *Request it is given, so calling one through the KeyFunc forces
// the request onto the heap, and each would build a string only to have it concatenated
// into the store key.
type keyKind uint8

const (
	keyCustom keyKind = iota
	keyConsumer
	keyIP
	keyPlan
	keyOperation
)

// kindOfKey recognises the built-in key functions by their code pointer (a func value
// has no other identity); a wrapper of one is a custom key function like any other.
func kindOfKey(k KeyFunc) keyKind {
	if k == nil {
		return keyConsumer
	}
	switch reflect.ValueOf(k).Pointer() {
	case reflect.ValueOf(ByConsumer).Pointer():
		return keyConsumer
	case reflect.ValueOf(ByIP).Pointer():
		return keyIP
	case reflect.ValueOf(ByPlan).Pointer():
		return keyPlan
	case reflect.ValueOf(ByOperation).Pointer():
		return keyOperation
	}
	return keyCustom
}

// headerReader is where a Request's Header function reads from when the middleware built
// the request: huma.Context has this method, and stdHeader gives it to an http.Header.
type headerReader interface {
	Header(name string) string
}

type stdHeader http.Header

func (h stdHeader) Header(name string) string { return http.Header(h).Get(name) }

// builtinKey is the key function of kind k, as a string.
func builtinKey(k keyKind, ctx context.Context, r *Request) (string, bool) {
	var buf [64]byte
	b, ok := appendBuiltinKey(buf[:0], k, ctx, r)
	if !ok {
		return "", false
	}
	return string(b), true
}

// appendBuiltinKey appends the key of the built-in key function of kind k; ok is false
// when that function does not apply to the request. It is the one implementation of
// ByConsumer, ByIP, ByPlan and ByOperation, which the limiter also calls directly to build
// a store key in one buffer.
func appendBuiltinKey(b []byte, k keyKind, ctx context.Context, r *Request) ([]byte, bool) {
	switch k {
	case keyConsumer:
		if p := auth.FromContext(ctx); p != nil && p.Consumer != "" {
			return append(append(b, "c:"...), p.Consumer...), true
		}
		return appendIPKey(b, r.ClientIP), true
	case keyIP:
		return appendIPKey(b, r.ClientIP), true
	case keyPlan:
		if p := auth.FromContext(ctx); p != nil && p.Plan != "" {
			return append(append(b, "p:"...), p.Plan...), true
		}
		return b, false
	case keyOperation:
		return append(append(b, "o:"...), r.Operation...), true
	}
	panic("ratelimit: not a built-in key kind")
}

// storeKey is the key the policy's counter has in the store: the policy name, a NUL, what
// its key function returns and, for an operation's own policy, the operation, built in
// one buffer and one allocation.
func (p *policy) storeKey(ctx context.Context, r *Request) (string, bool) {
	var buf [128]byte
	b := append(append(buf[:0], p.Name...), 0)
	if p.keyKind == keyCustom {
		// The key function gets its own copy, which may escape; the caller's stays put.
		rc := *r
		if rc.Header == nil && r.header != nil {
			rc.Header = r.header.Header
		}
		k, ok := p.Key(ctx, &rc)
		if !ok {
			return "", false
		}
		b = append(b, k...)
	} else {
		var ok bool
		if b, ok = appendBuiltinKey(b, p.keyKind, ctx, r); !ok {
			return "", false
		}
	}
	if p.perOp {
		b = append(append(b, "|o:"...), r.Operation...)
	}
	return string(b), true
}

// appendIPKey appends ByIP's key for a.
func appendIPKey(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, "ip:unknown"...)
	case a.Is6():
		pfx, _ := a.Prefix(64)
		return pfx.AppendTo(append(b, "ip:"...))
	default:
		return a.AppendTo(append(b, "ip:"...))
	}
}
