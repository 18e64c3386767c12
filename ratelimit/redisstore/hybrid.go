package redisstore

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/ratelimit"
)

// leases is the local state of the hybrid mode: per key, units taken from Redis in advance
// and not spent yet.
//
// A lease is real consumption in Redis, so spending it locally never admits more than the
// rate allows, whatever the number of replicas. The price is the opposite error: units a
// replica leased and did not spend before the lease expired are lost, so the replicas
// together may admit up to Replicas × Lease units fewer than the rate per LeaseTTL. Calendar
// quotas end their leases at the end of the period (by the local clock), so a lease crosses
// into the next period only by the clock skew between the replica and Redis.
type leases struct {
	size   int64
	ttl    time.Duration
	now    func() time.Time
	seed   maphash.Seed
	shards [64]leaseShard
}

type leaseShard struct {
	mu        sync.Mutex
	m         map[string]lease
	purgeNext int // purge expired leases once the shard holds this many
}

// minPurge is the shard size below which expired leases are not purged: they are few, and
// spend drops them when their key comes back.
const minPurge = 64

type lease struct {
	units   int64     // leased and not yet spent
	expires time.Time // when unspent units are given up
	// refusedUntil, when in the future, means Redis had fewer than a lease left: decisions
	// go to Redis one by one until then, so the last units are not stranded in a lease.
	refusedUntil time.Time
	last         ratelimit.Result // Redis's answer when the lease was taken
}

func newLeases(size int64, ttl time.Duration, now func() time.Time) *leases {
	if now == nil {
		now = time.Now
	}
	l := &leases{size: size, ttl: ttl, now: now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[string]lease)
		l.shards[i].purgeNext = minPurge
	}
	return l
}

func (l *leases) shard(key string) *leaseShard {
	return &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
}

// spend takes n units from a valid lease of key.
func (l *leases) spend(key string, n int64) (ratelimit.Result, bool) {
	sh := l.shard(key)
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ls, ok := sh.m[key]
	if !ok {
		return ratelimit.Result{}, false
	}
	if !now.Before(ls.expires) {
		ls.units = 0
	}
	if ls.units < n {
		if !now.Before(ls.expires) && !now.Before(ls.refusedUntil) {
			delete(sh.m, key)
		}
		return ratelimit.Result{}, false
	}
	ls.units -= n
	sh.m[key] = ls
	res := ls.last
	res.Remaining += ls.units
	return res, true
}

// leasing reports whether key should try to lease (rather than go to Redis unit by unit).
func (l *leases) leasing(key string) bool {
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return !l.now().Before(sh.m[key].refusedUntil)
}

// grant records a lease of units taken from Redis, of which n are spent at once.
func (l *leases) grant(key string, rate ratelimit.Rate, units, n int64, res ratelimit.Result) ratelimit.Result {
	now := l.now()
	expires := now.Add(l.ttl)
	if rate.IsQuota() {
		if _, end := rate.Period(now); end.Before(expires) {
			expires = end
		}
	}
	sh := l.shard(key)
	sh.mu.Lock()
	ls := sh.m[key]
	if now.Before(ls.expires) {
		units += ls.units // a concurrent lease for the same key: keep both
	}
	sh.m[key] = lease{units: units - n, expires: expires, last: res}
	sh.purge(now)
	sh.mu.Unlock()
	res.Remaining += units - n
	return res
}

// refuse remembers that Redis had less than a lease left for key.
func (l *leases) refuse(key string) {
	sh := l.shard(key)
	sh.mu.Lock()
	ls := sh.m[key]
	now := l.now()
	ls.refusedUntil = now.Add(l.ttl)
	sh.m[key] = ls
	sh.purge(now)
	sh.mu.Unlock()
}

// unspent returns the units of a valid lease of key that are not spent yet.
func (l *leases) unspent(key string) int64 {
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if ls, ok := sh.m[key]; ok && l.now().Before(ls.expires) {
		return ls.units
	}
	return 0
}

// purge drops the expired leases of a shard that has doubled since its last purge, so that
// keys seen once do not stay in memory, at a constant cost per lease granted. The caller
// holds sh.mu.
func (sh *leaseShard) purge(now time.Time) {
	if len(sh.m) < sh.purgeNext {
		return
	}
	for k, ls := range sh.m {
		if !now.Before(ls.expires) && !now.Before(ls.refusedUntil) {
			delete(sh.m, k)
		}
	}
	sh.purgeNext = max(2*len(sh.m), minPurge)
}

// hybridTake serves n units from a local lease, or takes a new lease from Redis.
func (s *Store) hybridTake(ctx context.Context, key string, rate ratelimit.Rate, n int) (ratelimit.Result, error) {
	if n == 0 {
		// Redis counts this replica's leases as spent: the units leased and not spent yet
		// are still available here. Without them, a peek after one spent unit would report
		// the whole lease as gone (and an authentication throttle would lock a client out
		// after one failure).
		res, err := s.take(ctx, key, rate, 0)
		if err != nil {
			return res, err
		}
		if u := s.leases.unspent(key); u > 0 {
			res.Remaining += u
			res.Allowed, res.RetryAfter = true, 0
		}
		return res, nil
	}
	if res, ok := s.leases.spend(key, int64(n)); ok {
		res.Rate = rate
		return res, nil
	}
	size := min(s.leases.size, rate.Capacity())
	if int64(n) < size && s.leases.leasing(key) {
		res, err := s.take(ctx, key, rate, int(size))
		if err != nil || res.Allowed {
			if err != nil {
				return res, err
			}
			return s.leases.grant(key, rate, size, int64(n), res), nil
		}
		s.leases.refuse(key)
	}
	return s.take(ctx, key, rate, n)
}
