package main

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/ratelimit/redisstore"
)

// Limits of the delivery API. The burst is small on purpose: ten quick calls with the demo
// key are enough to see a 429 with its RateLimit and Retry-After headers.
var (
	// perConsumer smooths each consumer's traffic: 10 calls at once, then one per second.
	perConsumer = ratelimit.Policy{Name: "per-consumer", Rate: ratelimit.PerMinute(60).WithBurst(10)}
	// daily caps each plan's calls per day (UTC), whatever they are; the internal plan is
	// unmetered. The plan is the consumer's billing plan (see billing.go).
	daily = ratelimit.Policy{
		Name: "daily",
		Rate: ratelimit.Daily(1_000),
		Plans: map[string]ratelimit.Rate{
			"free":     ratelimit.Daily(200),
			"starter":  ratelimit.Daily(5_000),
			"growth":   ratelimit.Daily(50_000),
			"internal": {},
		},
	}
)

// failedAuthRate is how many failed authentications one client address, or one key, may
// make: five in a row, then one more every three minutes. Only failures count and only
// failures are refused.
var failedAuthRate = ratelimit.PerHour(20).WithBurst(5)

// newLimits builds the limiter. With REDIS_URL set, limits are shared by every replica
// through Redis (keys under RATELIMIT_PREFIX, "delivery:rl:" by default); otherwise they are
// kept in process. close releases the Redis client.
func newLimits(getenv func(string) string) (limits *ratelimit.Limiter, close func() error, err error) {
	cfg := ratelimit.Config{Policies: []ratelimit.Policy{perConsumer, daily}}
	close = func() error { return nil }
	if url := getenv("REDIS_URL"); url != "" {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		opts.ContextTimeoutEnabled = true
		rdb := redis.NewClient(opts)
		prefix := getenv("RATELIMIT_PREFIX")
		if prefix == "" {
			prefix = "delivery:rl:"
		}
		// If Redis goes away, each replica keeps limiting on its own rather than letting
		// every request through or refusing them all.
		store, err := redisstore.New(redisstore.Config{
			Client: rdb, Prefix: prefix, OnError: redisstore.LocalFallback, Timeout: 100 * time.Millisecond,
		})
		if err != nil {
			_ = rdb.Close()
			return nil, nil, err
		}
		cfg.Store, close = store, rdb.Close
	}
	limits, err = ratelimit.New(cfg)
	if err != nil {
		_ = close()
		return nil, nil, err
	}
	return limits, close, nil
}
