package ratelimit

import (
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// index maps keys to cells. It is an open-addressing hash table with linear probing whose
// readers take no lock and write nothing shared: a lookup is one seeded hash, a few atomic
// pointer loads and a key comparison. Writers (new keys, drops, growth) hold mu.
//
// sync.Map was the first choice and cost some 40% of a decision: every load boxes the key in
// an interface, hashes it through its type and walks a trie whose nodes are separate cache
// lines. Here a hit usually touches one slot and the cell it points to. Each slot keeps the
// hash of its key beside the pointer, so that probing past other keys reads only the table:
// the cells of other keys are written by other cores, and reading them would move their
// cache lines for nothing.
//
// A slot goes from nil to a cell, from a cell to the tombstone (a drop) or to another cell
// for the same key (replacing a dead cell), and from the tombstone to a cell. It never goes
// back to nil, so a reader that probes up to a nil slot has seen every cell that was in the
// table before it started. Growth builds a new table and publishes it; the old one is never
// written again, so readers still probing it finish there, and a key they miss is found by
// insert, which looks again in the current table under mu.
type index struct {
	seed maphash.Seed
	tab  atomic.Pointer[table]
	tomb *cell // marks a dropped slot; never handed out

	mu   sync.Mutex
	used int // slots that are not nil in tab: cells and tombstones
	n    atomic.Int64
}

type table struct {
	slots []slot
	mask  uint64
}

// slot holds a cell and the hash of its key. The hash is written before the cell, and only
// filters: a reader whose hash matches still compares the key in the cell it loaded, so a
// slot read while it changes can cost a miss (the change overlapped the lookup) but never
// a wrong cell.
type slot struct {
	h atomic.Uint64
	c atomic.Pointer[cell]
}

func (sl *slot) set(c *cell) {
	sl.h.Store(c.hash)
	sl.c.Store(c)
}

const minSlots = 16

func newIndex() *index {
	x := &index{seed: maphash.MakeSeed(), tomb: new(cell)}
	x.tab.Store(newTable(minSlots))
	return x
}

func newTable(size int) *table {
	return &table{slots: make([]slot, size), mask: uint64(size - 1)}
}

func (x *index) hash(key string) uint64 { return maphash.String(x.seed, key) }

// load returns the cell of key, or nil. The cell may be dead.
func (x *index) load(key string, h uint64) *cell {
	t := x.tab.Load()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		c := sl.c.Load()
		if c == nil {
			return nil
		}
		if c != x.tomb && sl.h.Load() == h && c.key == key {
			return c
		}
	}
}

// insert adds c for its key and returns true, unless a live cell for the key exists. A dead
// cell for the key is replaced: its sweeper finds it gone and leaves the count alone.
func (x *index) insert(c *cell) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.tab.Load()
	free := -1
	for i := c.hash & t.mask; ; i = (i + 1) & t.mask {
		o := t.slots[i].c.Load()
		if o == nil {
			if free < 0 {
				free = int(i)
				x.used++
			}
			break
		}
		if o == x.tomb {
			if free < 0 {
				free = int(i)
			}
			continue
		}
		if t.slots[i].h.Load() == c.hash && o.key == c.key {
			if o.v.Load() != dead {
				return false
			}
			t.slots[i].set(c)
			return true
		}
	}
	t.slots[free].set(c)
	n := x.n.Add(1)
	if 4*x.used > 3*len(t.slots) {
		x.grow(int(n))
	}
	return true
}

// grow publishes a table sized for n live cells at most half full, without tombstones or
// dead cells. Called with mu held.
func (x *index) grow(n int) {
	size := minSlots
	for size < 2*n {
		size *= 2
	}
	old, t := x.tab.Load(), newTable(size)
	live := 0
	for i := range old.slots {
		c := old.slots[i].c.Load()
		if c == nil || c == x.tomb || c.v.Load() == dead {
			continue
		}
		j := c.hash & t.mask
		for t.slots[j].c.Load() != nil {
			j = (j + 1) & t.mask
		}
		t.slots[j].set(c)
		live++
	}
	x.used = live
	x.n.Store(int64(live))
	x.tab.Store(t)
}

// drop removes c, which the caller has marked dead, if it is still in the table.
func (x *index) drop(c *cell) {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.tab.Load()
	for i := c.hash & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[i].c.Load() {
		case nil:
			return // replaced by a new cell for the key, or left behind by growth
		case c:
			t.slots[i].c.Store(x.tomb)
			x.n.Add(-1)
			return
		}
	}
}

// each calls f for every cell in the current table, without holding mu: cells added or
// dropped meanwhile may or may not be visited.
func (x *index) each(f func(*cell)) {
	t := x.tab.Load()
	for i := range t.slots {
		if c := t.slots[i].c.Load(); c != nil && c != x.tomb {
			f(c)
		}
	}
}

// sample returns up to k cells found from a random slot on.
func (x *index) sample(k int, f func(*cell)) {
	t := x.tab.Load()
	start := rand.Uint64()
	for i, seen := uint64(0), 0; i <= t.mask && seen < k; i++ {
		if c := t.slots[(start+i)&t.mask].c.Load(); c != nil && c != x.tomb {
			f(c)
			seen++
		}
	}
}
