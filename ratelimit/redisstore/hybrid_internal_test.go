package redisstore

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tollgate-dev/tollgate/ratelimit"
)

// Keys seen once must not keep their expired leases forever.
func TestLeaseTableIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	l := newLeases(10, time.Second, func() time.Time { return now })
	r := ratelimit.PerHour(1000)
	const batch = 20_000
	for round := range 3 {
		for i := range batch {
			k := strconv.Itoa(round) + ":" + strconv.Itoa(i)
			if i%2 == 0 {
				l.grant(k, r, 10, 1, ratelimit.Result{Allowed: true})
			} else {
				l.refuse(k)
			}
		}
		now = now.Add(2 * time.Second) // every lease and refusal so far expires
	}
	size := 0
	for i := range l.shards {
		size += len(l.shards[i].m)
	}
	assert.Less(t, size, 2*batch, "expired leases of earlier rounds are purged")
}
