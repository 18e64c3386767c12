package ratelimit

import (
	"context"
	"errors"
	"hash/maphash"
	"runtime"
	"sync"
	"time"
)

// MemoryConfig configures a [MemoryStore]. The zero value works.
type MemoryConfig struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxKeys bounds the number of keys kept; zero means 1<<20 (about 100 MiB at most). Keys
	// whose limit has fully refilled are dropped first, which loses nothing. Only when every
	// kept key is still active is the one closest to refilling dropped, which may admit a
	// little more for that key than its rate allows.
	MaxKeys int
	// Shards is the number of independently locked partitions, rounded up to a power of
	// two; zero means 16 per CPU, so concurrent callers rarely wait on each other.
	Shards int
}

// MemoryStore is the in-process [Store]: GCRA for smoothing rates and a counter per period
// for quotas, in a sharded map guarded by one mutex per shard. It keeps three integers per
// key and allocates nothing once a key exists.
//
// A MemoryStore limits one process. Behind a load balancer with several replicas, use a
// shared store (ratelimit/redisstore) or divide the rates by the number of replicas.
type MemoryStore struct {
	now      func() time.Time
	seed     maphash.Seed
	mask     uint64
	perShard int
	shards   []shard
}

type shard struct {
	mu      sync.Mutex
	m       map[string]*entry
	sweepAt int
	_       [32]byte // keep hot shards on separate cache lines
}

// entry is the state of one key: the GCRA theoretical arrival time in v (period zero), or
// the units used in v during the quota period starting at period. Expires is when the entry
// becomes indistinguishable from an absent one.
type entry struct {
	v, period, expires int64
}

const minSweep = 64

// NewMemoryStore returns an in-process store.
func NewMemoryStore(cfg MemoryConfig) (*MemoryStore, error) {
	if cfg.MaxKeys < 0 || cfg.Shards < 0 {
		return nil, errors.New("ratelimit: MaxKeys and Shards must not be negative")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = 1 << 20
	}
	if cfg.Shards == 0 {
		cfg.Shards = 16 * runtime.GOMAXPROCS(0)
	}
	n := 1
	for n < cfg.Shards {
		n <<= 1
	}
	s := &MemoryStore{
		now:      cfg.Now,
		seed:     maphash.MakeSeed(),
		mask:     uint64(n - 1),
		perShard: max(1, cfg.MaxKeys/n),
		shards:   make([]shard, n),
	}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*entry)
		s.shards[i].sweepAt = min(minSweep, s.perShard)
	}
	return s, nil
}

var _ Store = (*MemoryStore)(nil)

// Take implements [Store]. It never returns an error other than ctx's.
func (s *MemoryStore) Take(ctx context.Context, key string, rate Rate, n int) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if n < 0 {
		return Result{}, errNegativeCost
	}
	t := s.now()
	now := t.UnixNano()
	var start, end int64
	if rate.Calendar != Smooth {
		ps, pe := rate.Period(t)
		start, end = ps.UnixNano(), pe.UnixNano()
	}
	sh := &s.shards[maphash.String(s.seed, key)&s.mask]
	sh.mu.Lock()
	// Entries are pointers so that an existing key costs one map lookup and no store.
	ep, ok := sh.m[key]
	var e entry
	if ok {
		e = *ep
	}
	var d decision
	if rate.Calendar == Smooth {
		d, e.v = gcra(now, e.v, int64(rate.Interval()), rate.Capacity(), int64(n))
		e.period, e.expires = 0, e.v
	} else {
		if e.period != start {
			e.v = 0
		}
		d, e.v = fixedWindow(now, end, e.v, rate.Quota, int64(n))
		e.period, e.expires = start, end
	}
	if d.allowed && n > 0 {
		if ok {
			*ep = e
		} else {
			if len(sh.m) >= sh.sweepAt {
				s.sweep(sh, now)
			}
			ne := new(entry)
			*ne = e
			sh.m[key] = ne
		}
	}
	sh.mu.Unlock()
	return Result{
		Allowed:    d.allowed,
		Rate:       rate,
		Remaining:  d.remaining,
		ResetAfter: time.Duration(d.reset),
		RetryAfter: time.Duration(d.retry),
	}, nil
}

var errNegativeCost = errors.New("ratelimit: cost must not be negative")

// sweep drops the entries that have refilled, and when the shard is still full, the ones
// closest to refilling. The next sweep waits until the shard has doubled, which keeps the
// cost per insert constant.
func (s *MemoryStore) sweep(sh *shard, now int64) {
	for k, e := range sh.m {
		if e.expires <= now {
			delete(sh.m, k)
		}
	}
	for len(sh.m) >= s.perShard {
		// Map iteration starts at a random place: a small sample approximates "least
		// recently useful" without keeping an ordered index on the hot path.
		var victim string
		best, seen := int64(0), 0
		for k, e := range sh.m {
			if seen == 0 || e.expires < best {
				victim, best = k, e.expires
			}
			if seen++; seen == 8 {
				break
			}
		}
		delete(sh.m, victim)
	}
	sh.sweepAt = min(max(2*len(sh.m), minSweep), s.perShard)
}

// Len returns the number of keys currently kept.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
