package ratelimit

import (
	"context"
	"net/http"
	"net/netip"
	"reflect"

	"github.com/tollgate-dev/tollgate/auth"
)

// keyKind names the built-in key functions, which the limiter evaluates inline: a user's
// KeyFunc may keep the *Request it is given, so calling one forces the request onto the
// heap, and the built-ins would then each build a string only to have it concatenated
// into the store key.
type keyKind uint8

const (
	keyCustom keyKind = iota
	keyConsumer
	keyIP
	keyPlan
	keyOperation
)

// kindOfKey recognises the built-in key functions by their code pointer.
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

// storeKey is the key the policy's counter has in the store: the policy name, a NUL, what
// its key function returns and, for an operation's own policy, the operation. The
// built-in key functions are evaluated here byte for byte as they would be called, in one
// buffer and one allocation.
func (p *policy) storeKey(ctx context.Context, r *Request) (string, bool) {
	var buf [128]byte
	b := append(append(buf[:0], p.Name...), 0)
	switch p.keyKind {
	case keyConsumer:
		if pr := auth.FromContext(ctx); pr != nil && pr.Consumer != "" {
			b = append(append(b, "c:"...), pr.Consumer...)
		} else {
			b = appendIPKey(b, r.ClientIP)
		}
	case keyIP:
		b = appendIPKey(b, r.ClientIP)
	case keyPlan:
		pr := auth.FromContext(ctx)
		if pr == nil || pr.Plan == "" {
			return "", false
		}
		b = append(append(b, "p:"...), pr.Plan...)
	case keyOperation:
		b = append(append(b, "o:"...), r.Operation...)
	default:
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
	}
	if p.perOp {
		b = append(append(b, "|o:"...), r.Operation...)
	}
	return string(b), true
}

// appendIPKey appends what ByIP returns.
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
