package clients

import (
	"errors"
	"net/http"
	"sync"

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
	resp *http.Response
	err  error
}

// breaker guards one upstream host.
type breaker struct {
	cb *gobreaker.CircuitBreaker[outcome]
	// open is returned, shared, for every rejected call so that a rejection allocates
	// nothing.
	open *Error
}

// breakers holds one breaker per host, created on first use.
type breakers struct {
	disabled  bool
	tripOn429 bool
	settings  gobreaker.Settings
	onChange  func(host string, from, to State)
	upstream  string

	m sync.Map // host -> *breaker
}

func newBreakers(cfg BreakerConfig, upstream string) *breakers {
	b := &breakers{disabled: cfg.Disabled, tripOn429: cfg.TripOn429, onChange: cfg.OnStateChange, upstream: upstream}
	failures := orDefault(cfg.Failures, DefaultBreakerFailures)
	trip := cfg.ReadyToTrip
	if trip == nil {
		trip = func(c Counts) bool { return c.ConsecutiveFailures >= failures }
	}
	interval := orDefault(cfg.Interval, DefaultBreakerInterval)
	b.settings = gobreaker.Settings{
		MaxRequests: orDefault(cfg.Probes, 1),
		Interval:    max(interval, 0),
		Timeout:     orDefault(cfg.OpenFor, DefaultBreakerOpenFor),
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
	st := b.settings
	st.Name = host
	if b.onChange != nil {
		st.OnStateChange = func(name string, from, to State) { b.onChange(name, from, to) }
	}
	br := &breaker{
		cb:   gobreaker.NewCircuitBreaker[outcome](st),
		open: &Error{Upstream: b.upstream, URL: host, Err: ErrCircuitOpen},
	}
	v, _ := b.m.LoadOrStore(host, br)
	return v.(*breaker)
}

// state returns the state of the breaker of host; a host never called is closed.
func (b *breakers) state(host string) State {
	if v, ok := b.m.Load(host); ok {
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
