package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"runtime"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate/ratelimit"
	"github.com/tollgate-dev/tollgate/ratelimit/redisstore"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// redisPeers returns one decision function per peer against the shared Redis, on keys under
// a prefix of this run.
func redisPeers(b *testing.B) (*redis.Client, []decider) {
	rdb := redis.NewClient(&redis.Options{Addr: tollgatetest.RedisAddr(b), ContextTimeoutEnabled: true, PoolSize: 64})
	b.Cleanup(func() { _ = rdb.Close() })
	var buf [6]byte
	_, _ = rand.Read(buf[:])
	prefix := "tollgate-bench:" + hex.EncodeToString(buf[:]) + ":"
	b.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			_ = rdb.Del(ctx, iter.Val()).Err()
		}
	})
	store, err := redisstore.New(redisstore.Config{Client: rdb, Prefix: prefix, Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	hybrid, err := redisstore.New(redisstore.Config{Client: rdb, Prefix: prefix + "hybrid:", Timeout: time.Second, Lease: 100})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rr := redis_rate.NewLimiter(rdb)
	return rdb, []decider{
		{"ping", func([]string) func(int) bool {
			return func(int) bool { return rdb.Ping(ctx).Err() == nil }
		}},
		{"tollgate", func(ks []string) func(int) bool {
			r := ratelimit.PerHour(perHour).WithBurst(burst)
			return func(i int) bool {
				res, err := store.Take(ctx, ks[i], r, 1)
				return err == nil && res.Allowed
			}
		}},
		{"tollgate_hybrid", func(ks []string) func(int) bool {
			r := ratelimit.PerHour(perHour).WithBurst(burst)
			return func(i int) bool {
				res, err := hybrid.Take(ctx, ks[i], r, 1)
				return err == nil && res.Allowed
			}
		}},
		{"redis_rate", func(ks []string) func(int) bool {
			// redis_rate keys are its own prefix plus the key; give it ours too.
			pk := make([]string, len(ks))
			for i, k := range ks {
				pk[i] = prefix + "rr:" + k
			}
			l := redis_rate.Limit{Rate: perHour, Period: time.Hour, Burst: burst}
			return func(i int) bool {
				res, err := rr.Allow(ctx, pk[i], l)
				return err == nil && res.Allowed > 0
			}
		}},
	}
}

func BenchmarkRedis(b *testing.B) {
	_, peers := redisPeers(b)
	ks := keys(1_000)
	for _, p := range peers {
		b.Run(p.name+"/serial", func(b *testing.B) {
			decide := p.make(ks)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if !decide(i % len(ks)) {
					b.Fatal("failed")
				}
				i++
			}
		})
		b.Run(p.name+"/callers=64", func(b *testing.B) {
			decide := p.make(ks)
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if !decide(i % len(ks)) {
						b.Error("failed")
						return
					}
					i++
				}
			})
		})
	}
}
