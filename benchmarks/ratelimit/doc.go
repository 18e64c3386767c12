// Package ratelimit compares Tollgate's rate limiter with the limiters it replaces: a per-key
// golang.org/x/time/rate limiter held in a sync.Map, go-chi/httprate, and, against a real
// Redis, go-redis/redis_rate and a bare PING round trip.
//
//	go -C benchmarks test -run '^$' -bench . -benchmem -cpu 1,2,4,8 ./ratelimit/
package ratelimit
