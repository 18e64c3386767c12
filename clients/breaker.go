package clients

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// State is the state of a circuit breaker.
type State = gobreaker.State

// Counts are the counts of a closed breaker, given to [BreakerConfig.ReadyToTrip].
type Counts = gobreaker.Counts

// Breaker states.
const (
	StateClosed   = gobreaker.StateClosed
	StateHalfOpen = gobreaker.StateHalfOpen
	StateOpen     = gobreaker.StateOpen
)

func stateValue(s State) int64 {
	switch s {
	case StateHalfOpen:
		return 1
	case StateOpen:
		return 2
	}
	return 0
}

// verdicts a call hands to its breaker as the error of gobreaker's Execute.
var (
	errCallFailed   = errors.New("call failed")
	errCallExcluded = errors.New("call not counted")
)

// outcome is the result of one logical call, carried through the breaker.
type outcome struct {
	resp           *http.Response
	err            error
	upstreamFailed bool
}

// breaker guards one upstream host.
type breaker struct {
	cb *gobreaker.CircuitBreaker[outcome]
	// openUntil is when the open breaker turns half-open, in monotonic nanoseconds since
	// epoch, or 0 when it is not open. Reading it lets a rejection skip gobreaker's mutex,
	// which every caller would otherwise queue on while the upstream is down.
	openUntil atomic.Int64
	epoch     time.Time
	// open is returned, shared, for every rejected call so that a rejection allocates
	// nothing.
	open *Error
}

// breakers holds one breaker per host, created on first use.
type breakers struct {
	disabled  bool
	tripOn429 bool
	settings  gobreaker.Settings
	openFor   time.Duration
	onChange  func(host string, from, to State)
	upstream  string

	m sync.Map // host -> *breaker
	n atomic.Int64
}

// maxBreakers bounds the breakers a Client keeps, since a client for user-supplied URLs
// (webhooks) meets unboundedly many hosts. Past it, closed breakers are dropped: they only
// hold recent counts, while open and half-open ones hold what protects a failing host.
const maxBreakers = 10_000

func newBreakers(cfg BreakerConfig, upstream string) *breakers {
	b := &breakers{disabled: cfg.Disabled, tripOn429: cfg.TripOn429, onChange: cfg.OnStateChange, upstream: upstream}
	failures := orDefault(cfg.Failures, DefaultBreakerFailures)
	trip := cfg.ReadyToTrip
	if trip == nil {
		trip = func(c Counts) bool { return c.ConsecutiveFailures >= failures }
	}
	interval := orDefault(cfg.Interval, DefaultBreakerInterval)
	b.openFor = orDefault(cfg.OpenFor, DefaultBreakerOpenFor)
	b.settings = gobreaker.Settings{
		MaxRequests: orDefault(cfg.Probes, 1),
		Interval:    max(interval, 0),
		Timeout:     b.openFor,
		ReadyToTrip: trip,
		IsExcluded:  func(err error) bool { return err == errCallExcluded },
	}
	return b
}

// get returns the breaker of host, or nil when breakers are disabled.
func (b *breakers) get(host string) *breaker {
	if b.disabled {
		return nil
	}
	if v, ok := b.m.Load(host); ok {
		return v.(*breaker)
	}
	br := &breaker{
		epoch: time.Now(),
		open:  &Error{Upstream: b.upstream, URL: host, Err: ErrCircuitOpen},
	}
	st := b.settings
	st.Name = host
	st.OnStateChange = func(name string, from, to State) {
		// Called by gobreaker under its lock, just after it set its own expiry, so this one
		// ends a hair later and the fast path never rejects a call gobreaker would admit.
		if to == StateOpen {
			br.openUntil.Store(int64(time.Since(br.epoch) + b.openFor))
		} else {
			br.openUntil.Store(0)
		}
		if b.onChange != nil {
			b.onChange(name, from, to)
		}
	}
	br.cb = gobreaker.NewCircuitBreaker[outcome](st)
	v, loaded := b.m.LoadOrStore(host, br)
	if !loaded && b.n.Add(1) > maxBreakers {
		b.sweep(host)
	}
	return v.(*breaker)
}

// sweep drops the closed breakers other than keep's.
func (b *breakers) sweep(keep string) {
	b.m.Range(func(k, v any) bool {
		if k != keep && v.(*breaker).cb.State() == StateClosed {
			if b.m.CompareAndDelete(k, v) {
				b.n.Add(-1)
			}
		}
		return true
	})
}

// isOpen reports, without locking, whether the breaker is open and not yet due to turn
// half-open.
func (br *breaker) isOpen() bool {
	u := br.openUntil.Load()
	return u != 0 && int64(time.Since(br.epoch)) < u
}

// state returns the state of the breaker of host; a host never called is closed.
func (b *breakers) state(host string) State {
	if v, ok := b.m.Load(strings.ToLower(host)); ok {
		return v.(*breaker).cb.State()
	}
	return StateClosed
}

func (b *breakers) each(f func(host string, st State)) {
	b.m.Range(func(k, v any) bool {
		f(k.(string), v.(*breaker).cb.State())
		return true
	})
}
