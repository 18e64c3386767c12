package redisstore

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tollgate-dev/tollgate/ratelimit"
)

//go:embed script.lua
var scriptSource string

// Mode is what the store does when Redis cannot decide within the timeout.
type Mode int

const (
	// FailClosed refuses requests while Redis is unavailable: Take returns a
	// *ratelimit.UnavailableError and the middleware answers 503 with Retry-After. It is the
	// zero value because a limit that silently stops limiting is the worse surprise.
	FailClosed Mode = iota
	// FailOpen admits requests unchecked while Redis is unavailable.
	FailOpen
	// LocalFallback limits in process while Redis is unavailable, at the rate divided by
	// Config.Replicas, so the replicas together stay near the configured rate. State spent
	// in Redis before the outage is not known locally: during an outage a consumer may get up
	// to one extra full allowance per period.
	LocalFallback
)

func (m Mode) String() string {
	switch m {
	case FailClosed:
		return "fail_closed"
	case FailOpen:
		return "fail_open"
	case LocalFallback:
		return "local_fallback"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Config configures a [Store]. Client is required; the other zero values work.
type Config struct {
	// Client is the go-redis client the service already uses: *redis.Client,
	// *redis.ClusterClient, *redis.Ring or a redis.UniversalClient. On a cluster each key
	// lives in one slot (keys are hash-tagged), so every decision is one round trip.
	Client redis.Scripter
	// Prefix is prepended to every key; empty means "tollgate:rl:". Give each service or
	// environment sharing a Redis its own prefix.
	Prefix string
	// Timeout bounds one decision, including retries by the client; zero means 100ms. A
	// slow Redis then costs requests at most this long before OnError applies.
	Timeout time.Duration
	// OnError chooses what happens when Redis cannot decide; the zero value is FailClosed.
	OnError Mode
	// Replicas is the number of processes sharing the limits, used by LocalFallback to
	// divide rates; zero means 1.
	Replicas int
	// RetryAfter is the Retry-After hint of FailClosed refusals; zero means one second.
	RetryAfter time.Duration
	// TripAfter is how many decisions in a row Redis may fail before the store stops asking
	// it: a circuit breaker then applies OnError at once, without waiting out Timeout, for
	// Cooldown, after which one decision tries Redis again. A request subject to several
	// policies thus pays the timeout a few times per outage, not once per policy per
	// request. Zero means 3; negative turns the breaker off.
	TripAfter int
	// Cooldown is how long the breaker stays open; zero means one second.
	Cooldown time.Duration
	// MeterProvider receives the store's metrics; nil means the global provider.
	MeterProvider metric.MeterProvider
	// Lease turns on the hybrid mode when positive: each process takes Lease units at a time
	// from Redis and spends them locally, so most decisions cost no round trip. It never
	// admits more than the rate; it may admit up to Replicas × Lease units fewer per LeaseTTL,
	// because leased units not spent in time are given up. Keep Lease well below the burst
	// (a tenth is a good start). Zero decides every request in Redis.
	Lease int64
	// LeaseTTL is how long a lease may be spent; zero means one second.
	LeaseTTL time.Duration
	// Now replaces the Redis server clock. Leave it nil in production: the server's TIME
	// is what makes replicas with skewed clocks agree. Tests set it to drive the store
	// through ratelimittest with a manual clock.
	Now func() time.Time
}

// Store is a [ratelimit.Store] in Redis. Each decision is one EVALSHA of a Lua script
// (GCRA for smoothing rates, a counter per calendar period for quotas) that reads the time
// from the Redis server, so any number of replicas enforce one combined limit.
type Store struct {
	client   redis.Scripter
	script   *redis.Script
	prefix   string
	timeout  time.Duration
	mode     Mode
	replicas int64
	retry    time.Duration
	now      func() time.Time
	guard    bool
	local    *ratelimit.MemoryStore
	leases   *leases
	breaker  *gobreaker.CircuitBreaker[[]int64] // nil when TripAfter is negative

	decisions metric.Int64Counter
	ok        metric.MeasurementOption
	degraded  metric.MeasurementOption
}

var _ ratelimit.Store = (*Store)(nil)

// New returns a Store, or an error when cfg is invalid.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisstore: Client is required")
	}
	if cfg.Timeout < 0 || cfg.Replicas < 0 || cfg.RetryAfter < 0 || cfg.Lease < 0 || cfg.LeaseTTL < 0 || cfg.Cooldown < 0 {
		return nil, errors.New("redisstore: Timeout, Replicas, RetryAfter, Lease, LeaseTTL and Cooldown must not be negative")
	}
	if cfg.OnError < FailClosed || cfg.OnError > LocalFallback {
		return nil, fmt.Errorf("redisstore: unknown OnError mode %d", cfg.OnError)
	}
	s := &Store{
		client:   cfg.Client,
		script:   redis.NewScript(scriptSource),
		prefix:   cfg.Prefix,
		timeout:  cfg.Timeout,
		mode:     cfg.OnError,
		replicas: int64(max(cfg.Replicas, 1)),
		retry:    cfg.RetryAfter,
		now:      cfg.Now,
		guard:    !contextDeadlinesHonoured(cfg.Client),
	}
	if s.prefix == "" {
		s.prefix = "tollgate:rl:"
	}
	if s.timeout == 0 {
		s.timeout = 100 * time.Millisecond
	}
	if s.retry == 0 {
		s.retry = time.Second
	}
	if cfg.Lease > 0 {
		ttl := cfg.LeaseTTL
		if ttl == 0 {
			ttl = time.Second
		}
		s.leases = newLeases(cfg.Lease, ttl, cfg.Now)
	}
	if cfg.TripAfter >= 0 {
		trip := uint32(cfg.TripAfter)
		if trip == 0 {
			trip = 3
		}
		s.breaker = gobreaker.NewCircuitBreaker[[]int64](gobreaker.Settings{
			Name:        "redisstore",
			MaxRequests: 1,
			Timeout:     cmp.Or(cfg.Cooldown, time.Second),
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= trip },
			// A caller that gave up says nothing about Redis.
			IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		})
	}
	if s.mode == LocalFallback {
		local, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: cfg.Now})
		if err != nil {
			return nil, err
		}
		s.local = local
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter("github.com/tollgate-dev/tollgate/ratelimit/redisstore")
	var err error
	s.decisions, err = meter.Int64Counter("tollgate.ratelimit.redis.decisions",
		metric.WithDescription("Rate limit decisions by outcome: made by Redis, or made in the configured degraded mode because Redis could not decide."),
		metric.WithUnit("{decision}"))
	if err != nil {
		return nil, err
	}
	s.ok = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "redis")))
	s.degraded = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", s.mode.String())))
	return s, nil
}

// contextDeadlinesHonoured reports whether the client bounds network waits by the context
// deadline. When it does not (go-redis's default), Take abandons a call that outlives the
// timeout instead, so a slow Redis still cannot hold requests.
func contextDeadlinesHonoured(c redis.Scripter) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// Take implements [ratelimit.Store].
func (s *Store) Take(ctx context.Context, key string, rate ratelimit.Rate, n int) (ratelimit.Result, error) {
	if err := ctx.Err(); err != nil {
		return ratelimit.Result{}, err
	}
	if n < 0 {
		return ratelimit.Result{}, errors.New("redisstore: cost must not be negative")
	}
	if s.leases != nil {
		return s.hybridTake(ctx, key, rate, n)
	}
	return s.take(ctx, key, rate, n)
}

// take makes one decision in Redis, or in the degraded mode when Redis cannot.
func (s *Store) take(ctx context.Context, key string, rate ratelimit.Rate, n int) (ratelimit.Result, error) {
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var (
		v   []int64
		err error
	)
	if s.breaker != nil {
		// While open (or trying Redis again) Execute fails at once: no round trip.
		v, err = s.breaker.Execute(func() ([]int64, error) { return s.eval(dctx, key, rate, n) })
	} else {
		v, err = s.eval(dctx, key, rate, n)
	}
	if err == nil {
		s.decisions.Add(ctx, 1, s.ok)
		return ratelimit.Result{
			Allowed:    v[0] == 1,
			Rate:       rate,
			Remaining:  v[1],
			ResetAfter: time.Duration(v[2]) * time.Microsecond,
			RetryAfter: time.Duration(v[3]) * time.Microsecond,
		}, nil
	}
	if ctx.Err() != nil {
		// The caller gave up; that says nothing about Redis.
		return ratelimit.Result{}, ctx.Err()
	}
	s.decisions.Add(ctx, 1, s.degraded)
	switch s.mode {
	case FailOpen:
		return ratelimit.Result{Allowed: true, Rate: rate, Remaining: rate.Capacity()}, nil
	case LocalFallback:
		return s.local.Take(ctx, key, divide(rate, s.replicas), n)
	}
	return ratelimit.Result{}, &ratelimit.UnavailableError{RetryAfter: s.retry, Err: err}
}

// divide returns the share of rate one of replicas processes enforces.
func divide(r ratelimit.Rate, replicas int64) ratelimit.Rate {
	if replicas <= 1 {
		return r
	}
	r.Quota = max(r.Quota/replicas, 1)
	if r.Burst > 0 {
		r.Burst = max(r.Burst/replicas, 1)
	}
	return r
}

func (s *Store) eval(ctx context.Context, key string, rate ratelimit.Rate, n int) ([]int64, error) {
	keys := []string{s.prefix + "{" + key + "}"}
	args := s.args(rate, n)
	if !s.guard {
		return s.script.Run(ctx, s.client, keys, args...).Int64Slice()
	}
	type reply struct {
		v   []int64
		err error
	}
	done := make(chan reply, 1)
	go func() {
		v, err := s.script.Run(ctx, s.client, keys, args...).Int64Slice()
		done <- reply{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// intervalMicros is the emission interval of smoothing rate r in the script's whole
// microseconds, rounded up: rounding down would admit more than the rate, by two thirds for
// PerSecond(600000) (1.67µs becoming 1µs), while rounding up admits slightly less.
func intervalMicros(r ratelimit.Rate) int64 {
	ns := int64(r.Window / time.Duration(r.Quota))
	if r.Window%time.Duration(r.Quota) != 0 {
		ns++
	}
	return max((ns+999)/1000, 1)
}

func (s *Store) args(rate ratelimit.Rate, n int) []any {
	now := ""
	var t time.Time
	if s.now != nil {
		t = s.now()
		now = strconv.FormatInt(t.UnixMicro(), 10)
	} else {
		t = time.Now()
	}
	if rate.Calendar == ratelimit.Smooth {
		iv := intervalMicros(rate)
		return []any{"0", n, now, iv, iv * rate.Capacity()}
	}
	// The periods around the local time; the script picks the one that contains the
	// server's time.
	cur, next := rate.Period(t)
	prev, _ := rate.Period(cur.Add(-time.Nanosecond))
	_, following := rate.Period(next)
	return []any{"1", n, now, rate.Quota, prev.UnixMicro(), cur.UnixMicro(), next.UnixMicro(), following.UnixMicro()}
}
