package redisstore_test

import (
	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/ratelimit/redisstore"
)

func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	// Three replicas share the limits; if Redis is unreachable each limits on its own to a
	// third of every rate until Redis answers again.
	store, err := redisstore.New(redisstore.Config{
		Client:   rdb,
		Prefix:   "delivery:rl:",
		OnError:  redisstore.LocalFallback,
		Replicas: 3,
	})
	if err != nil {
		panic(err)
	}
	limits, err := ratelimit.New(ratelimit.Config{Store: store})
	if err != nil {
		panic(err)
	}
	_ = limits
}
