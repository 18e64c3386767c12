package ratelimit

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestCell(x *index, key string, v int64) *cell {
	c := &cell{key: key, hash: x.hash(key)}
	c.v.Store(v)
	return c
}

func TestIndexInsertLoadDrop(t *testing.T) {
	t.Parallel()
	x := newIndex()
	for i := range 1000 {
		require.True(t, x.insert(newTestCell(x, "k"+strconv.Itoa(i), int64(i))))
	}
	assert.EqualValues(t, 1000, x.n.Load())
	assert.False(t, x.insert(newTestCell(x, "k7", 0)), "a live key is not replaced")

	c := x.load("k7", x.hash("k7"))
	require.NotNil(t, c)
	assert.EqualValues(t, 7, c.v.Load())
	assert.Nil(t, x.load("absent", x.hash("absent")))

	// A dead cell is replaced by a new one for its key; dropping it afterwards changes
	// nothing.
	c.v.Store(dead)
	nc := newTestCell(x, "k7", 70)
	require.True(t, x.insert(nc))
	x.drop(c)
	assert.Same(t, nc, x.load("k7", x.hash("k7")))
	assert.EqualValues(t, 1000, x.n.Load())

	// Dropped keys are gone, the others still found past their tombstones.
	for i := 0; i < 1000; i += 2 {
		k := "k" + strconv.Itoa(i)
		c := x.load(k, x.hash(k))
		require.NotNil(t, c, k)
		c.v.Store(dead)
		x.drop(c)
	}
	assert.EqualValues(t, 500, x.n.Load())
	for i := range 1000 {
		k := "k" + strconv.Itoa(i)
		if i%2 == 0 {
			assert.Nil(t, x.load(k, x.hash(k)), k)
		} else {
			assert.NotNil(t, x.load(k, x.hash(k)), k)
		}
	}
}

// Readers race with inserts that grow the table and with drops: every reader finds the
// keys inserted before it started, and never a cell for another key.
func TestIndexConcurrentGrowth(t *testing.T) {
	t.Parallel()
	x := newIndex()
	const stable = 64
	for i := range stable {
		require.True(t, x.insert(newTestCell(x, "stable"+strconv.Itoa(i), 1)))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				k := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				c := newTestCell(x, k, 1)
				if !x.insert(c) {
					t.Errorf("%s already present", k)
					return
				}
				if i%3 == 0 {
					c.v.Store(dead)
					x.drop(c)
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for i := range 20_000 {
				k := "stable" + strconv.Itoa(i%stable)
				c := x.load(k, x.hash(k))
				if c == nil || c.key != k {
					t.Errorf("lookup of %s found %v", k, c)
					return
				}
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, stable+4*(2000-667), x.n.Load())
	n := 0
	x.each(func(*cell) { n++ })
	assert.Equal(t, int(x.n.Load()), n)
}
