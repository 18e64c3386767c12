// Package redisstore keeps rate limits in Redis, so that every replica of a service enforces
// one combined limit.
//
// # Quick start
//
// Pass the go-redis client the service already has:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(redisstore.Config{Client: rdb, OnError: redisstore.LocalFallback, Replicas: 3})
//	limits, err := ratelimit.New(ratelimit.Config{Store: store})
//
// # Decisions
//
// Each [Store.Take] is one round trip: EVALSHA of a Lua script, falling back to EVAL when
// the server does not have the script cached (after a restart or a failover). The script
// runs GCRA for smoothing rates (one integer per key) and a counter per calendar period for
// quotas, and reads the time with the Redis TIME command, so replicas whose clocks disagree
// still agree on every decision. Time is kept in whole microseconds, so an emission interval
// that is not a whole number of microseconds (3 per second, say) rounds up: the store never
// admits more than the rate, and admits less only for very fast rates (PerSecond(600000),
// an interval of 1.67µs kept as 2µs, admits 500000 per second). Keys expire once their
// limit has refilled, so idle consumers cost no memory.
//
// # Redis Cluster
//
// Keys are Prefix + "{" + key + "}": the hash tag puts all the state of one decision in one
// slot, and a *redis.ClusterClient or a redis.UniversalClient works unchanged.
//
// # Degraded modes
//
// A decision that Redis cannot make within [Config.Timeout] (100ms by default) is made by
// the mode in [Config.OnError]:
//
//   - [FailClosed], the default: refuse. Take returns a *ratelimit.UnavailableError and the
//     middleware answers 503 with Retry-After, which tells clients the service, not their
//     usage, is the problem.
//   - [FailOpen]: admit without limiting.
//   - [LocalFallback]: limit in process at the rate divided by [Config.Replicas].
//
// Every decision is counted in the tollgate.ratelimit.redis.decisions metric, with the
// outcome "redis" or the name of the degraded mode, so dashboards and alerts see an outage
// as it happens. After [Config.TripAfter] failed decisions in a row (3) a circuit breaker
// (sony/gobreaker) stops asking Redis for [Config.Cooldown] (1s) and applies the mode at
// once; then one decision tries Redis, and decisions go back to it when it answers. Without
// the breaker a request under three policies paid the timeout three times while Redis was
// away: the example served 27 requests per second then, and 1,366 with it.
//
// # Hybrid mode
//
// With [Config.Lease] set, a replica takes that many units from Redis in one decision and
// spends them locally, so most decisions make no round trip. Leased units are consumed in
// Redis, so the replicas together never admit more than the rate; units leased and not
// spent within [Config.LeaseTTL] are given up, so they may admit up to Replicas × Lease
// fewer per LeaseTTL. When Redis has less than a lease left, decisions go to Redis one by
// one until LeaseTTL has passed, so the last units of a budget are not stranded. Peeks
// (n == 0) ask Redis and add the units this replica has leased and not spent yet. Expired
// leases are purged as the lease table grows, so keys seen once do not stay in memory.
//
// Set ContextTimeoutEnabled on the go-redis client: the timeout then bounds the network
// wait itself. Without it, go-redis waits for its ReadTimeout (3s by default), and the store
// abandons the call after Timeout in a goroutine that lingers until go-redis gives up.
package redisstore
