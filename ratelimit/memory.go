package ratelimit

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryConfig configures a [MemoryStore]. The zero value works.
type MemoryConfig struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxKeys bounds the number of keys kept; zero means 1<<20 (some 150 MiB at most). Keys
	// whose limit has fully refilled are dropped first, which loses nothing. Only when every
	// kept key is still active are keys close to refilling dropped, an eighth of MaxKeys at a
	// time, which may admit a little more for those keys than their rate allows.
	MaxKeys int
}

// MemoryStore is the in-process [Store]: GCRA for smoothing rates and a counter per period
// for quotas. Keys live in a concurrent map with lock-free reads, and a smoothing decision
// is one compare-and-swap on the key's GCRA timestamp, so concurrent callers never wait on
// a lock and nothing is allocated once a key exists.
//
// A MemoryStore limits one process. Behind a load balancer with several replicas, use a
// shared store (ratelimit/redisstore) or divide the rates by the number of replicas.
type MemoryStore struct {
	now     func() time.Time
	max     int64
	idx     *index
	sweepAt atomic.Int64
	sweepMu sync.Mutex
	sweeps  int // full scans of the table, guarded by sweepMu
}

// cell is the state of one key. For a smoothing rate, v is the GCRA theoretical arrival
// time, changed by compare-and-swap. For a quota, mu guards period and used, and v holds the
// end of the period. Either way v is when the cell becomes indistinguishable from an absent
// one, and dead once it is being dropped from the map: a taker that finds a dead cell treats
// the key as absent and inserts a new cell, so no decision is ever recorded in a cell nobody
// will read. key and hash never change once the cell is in the map.
type cell struct {
	v      atomic.Int64
	mu     sync.Mutex
	period int64
	used   int64
	hash   uint64
	key    string
}

const (
	dead     = math.MinInt64
	minSweep = 1024
)

// NewMemoryStore returns an in-process store.
func NewMemoryStore(cfg MemoryConfig) (*MemoryStore, error) {
	if cfg.MaxKeys < 0 {
		return nil, errors.New("ratelimit: MaxKeys must not be negative")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = 1 << 20
	}
	s := &MemoryStore{now: cfg.Now, max: int64(cfg.MaxKeys), idx: newIndex()}
	s.sweepAt.Store(min(minSweep, s.max))
	return s, nil
}

var _ Store = (*MemoryStore)(nil)

// Take implements [Store]. It never returns an error other than ctx's.
func (s *MemoryStore) Take(ctx context.Context, key string, rate Rate, n int) (res Result, err error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if n < 0 {
		return Result{}, errNegativeCost
	}
	s.decide(key, &rate, n).fill(&res, &rate)
	return res, nil
}

// decide is Take once ctx and n are checked. [Limiter] calls it directly when it owns the
// store, which saves copying the arguments and the result through an interface call.
func (s *MemoryStore) decide(key string, rate *Rate, n int) decision {
	t := s.now()
	if rate.Calendar == Smooth {
		return s.smooth(key, t.UnixNano(), int64(rate.Interval()), rate.Capacity(), int64(n))
	}
	return s.quota(key, t, *rate, int64(n))
}

func (s *MemoryStore) smooth(key string, now, iv, burst, n int64) decision {
	h := s.idx.hash(key)
	for {
		c := s.idx.load(key, h)
		var old int64
		if c != nil {
			if old = c.v.Load(); old == dead {
				c, old = nil, 0 // being dropped: as good as absent
			}
		}
		d, next := gcra(now, old, iv, burst, n)
		if !d.allowed || n == 0 {
			return d // nothing to record
		}
		if c == nil {
			nc := &cell{}
			nc.v.Store(next)
			if s.store(key, h, nc, now) {
				return d
			}
			continue // another taker created the key first
		}
		if c.v.CompareAndSwap(old, next) {
			return d
		}
	}
}

func (s *MemoryStore) quota(key string, t time.Time, rate Rate, n int64) decision {
	ps, pe := rate.Period(t)
	now, start, end := t.UnixNano(), ps.UnixNano(), pe.UnixNano()
	h := s.idx.hash(key)
	for {
		if c := s.idx.load(key, h); c != nil {
			c.mu.Lock()
			if c.v.Load() != dead {
				if c.period != start {
					c.period, c.used = start, 0
				}
				d, used := fixedWindow(now, end, c.used, rate.Quota, n)
				if d.allowed && n > 0 {
					c.used = used
					c.v.Store(end)
				}
				c.mu.Unlock()
				return d
			}
			c.mu.Unlock() // being dropped: as good as absent
		}
		d, used := fixedWindow(now, end, 0, rate.Quota, n)
		if !d.allowed || n == 0 {
			return d
		}
		nc := &cell{period: start, used: used}
		nc.v.Store(end)
		if s.store(key, h, nc, now) {
			return d
		}
	}
}

// store adds c for key, unless another taker created the key first.
func (s *MemoryStore) store(key string, h uint64, c *cell, now int64) bool {
	// The key outlives the call: a copy keeps the caller's buffer from being retained.
	c.key, c.hash = strings.Clone(key), h
	if !s.idx.insert(c) {
		return false
	}
	if s.idx.n.Load() >= s.sweepAt.Load() {
		s.sweep(now)
	}
	return true
}

// sweep drops the keys that have refilled, and when the store is full, keys close to
// refilling until it is down to seven eighths of MaxKeys. The next sweep waits until the
// store has doubled or is full again, so each scan of the table is paid for by at least
// MaxKeys/8 inserts (or as many as the table held), which keeps the cost per insert
// constant. One sweep runs at a time; inserts meanwhile do not wait for it.
func (s *MemoryStore) sweep(now int64) {
	if !s.sweepMu.TryLock() {
		return
	}
	defer s.sweepMu.Unlock()
	s.sweeps++
	full := s.idx.n.Load() >= s.max
	s.idx.each(func(c *cell) {
		if e := c.v.Load(); e != dead && e <= now && s.kill(c, e) {
			s.idx.drop(c)
		}
	})
	// Evicting only down to MaxKeys-1 would make every following insert scan the whole
	// table again.
	low := s.max - max(s.max/8, 1)
	for full && s.idx.n.Load() > low {
		// Keys sit in the table in the order of their seeded hashes, effectively at random:
		// a small sample from a random slot approximates "closest to refilling" without an
		// ordered index on the hot path.
		var victim *cell
		best := int64(0)
		s.idx.sample(8, func(c *cell) {
			if e := c.v.Load(); e != dead && (victim == nil || e < best) {
				victim, best = c, e
			}
		})
		if victim == nil {
			break
		}
		if s.kill(victim, best) {
			s.idx.drop(victim)
		}
	}
	s.sweepAt.Store(min(max(2*s.idx.n.Load(), minSweep), s.max))
}

// kill marks c dead if it still holds v, so that no taker records into it afterwards.
func (s *MemoryStore) kill(c *cell, v int64) bool {
	c.mu.Lock() // quota takers hold it while they update
	defer c.mu.Unlock()
	return c.v.CompareAndSwap(v, dead)
}

// Len returns the number of keys currently kept.
func (s *MemoryStore) Len() int { return int(s.idx.n.Load()) }

var errNegativeCost = errors.New("ratelimit: cost must not be negative")
