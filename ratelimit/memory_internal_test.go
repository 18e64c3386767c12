package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// At capacity, every full scan of the table must be paid for by many inserts: sweeping
// only down to MaxKeys-1 made each new key scan the whole table.
func TestMemoryStoreSweepsAmortisedAtCapacity(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const maxKeys = 1 << 12
	s, err := NewMemoryStore(MemoryConfig{Now: func() time.Time { return now }, MaxKeys: maxKeys})
	require.NoError(t, err)
	ctx, r := context.Background(), PerHour(1) // nothing refills during the test
	const inserts = 50_000
	for i := range inserts {
		_, err := s.Take(ctx, "k"+strconv.Itoa(i), r, 1)
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, s.Len(), maxKeys)
	assert.LessOrEqual(t, s.sweeps, inserts/(maxKeys/8)+1)
}
