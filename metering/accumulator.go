package metering

import (
	"context"
	"maps"
	"sync"
)

// Accumulator collects the units a request consumes while its handler runs; the middleware
// adds them to the request's event. Get it with FromContext. It is safe for concurrent use,
// and its methods do nothing on a nil Accumulator, so handlers never check.
type Accumulator struct {
	mu    sync.Mutex
	units map[string]int64
}

type accumulatorKey struct{}

// NewContext returns a copy of ctx carrying a. The middleware does this for every request;
// call it directly to meter work that does not pass through the middleware.
func NewContext(ctx context.Context, a *Accumulator) context.Context {
	return context.WithValue(ctx, accumulatorKey{}, a)
}

// FromContext returns the request's Accumulator, or nil (whose Add does nothing) outside a
// metered request.
func FromContext(ctx context.Context) *Accumulator {
	a, _ := ctx.Value(accumulatorKey{}).(*Accumulator)
	return a
}

// Add adds n units of meter to the request's usage. Units added by the handler count even
// when the request fails: the handler did the work (an SMS sent is an SMS paid for).
//
// An empty meter is ignored. A name an event cannot carry (over 1024 bytes, not UTF-8 or
// holding NUL) is replaced by a digest of it, as the middleware does with an
// Idempotency-Key, so the usage is still recorded and the event is never refused.
func (a *Accumulator) Add(meter string, n int64) {
	if a == nil || meter == "" || n == 0 {
		return
	}
	meter = boundAttr(meter)
	a.mu.Lock()
	if a.units == nil {
		a.units = make(map[string]int64, 2)
	}
	a.units[meter] += n
	a.mu.Unlock()
}

// Units returns a copy of the units added so far.
func (a *Accumulator) Units() map[string]int64 {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.units)
}

// merge returns the event's units: the operation's declared units when the request
// succeeded, plus whatever the handler added.
func (a *Accumulator) merge(declared map[string]int64, succeeded bool) map[string]int64 {
	var out map[string]int64
	if succeeded && len(declared) > 0 {
		out = maps.Clone(declared)
	}
	if a == nil {
		return out
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.units) == 0 {
		return out
	}
	if out == nil {
		out = make(map[string]int64, len(a.units))
	}
	for k, n := range a.units {
		out[k] += n
	}
	return out
}
