package ratelimit_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/ratelimit"
)

// A smoothing rate that takes longer than a century to refill would overflow the GCRA
// arithmetic (a negative Remaining); Validate refuses it without overflowing itself.
func TestValidateRejectsRefillBeyondACentury(t *testing.T) {
	t.Parallel()
	for _, r := range []ratelimit.Rate{
		ratelimit.PerHour(1).WithBurst(3_000_000),
		ratelimit.PerHour(1).WithBurst(math.MaxInt64),
		ratelimit.Per(1, math.MaxInt64).WithBurst(2),
	} {
		err := r.Validate()
		require.Error(t, err, "%+v", r)
		assert.Contains(t, err.Error(), "more than a century to refill")
		_, err = ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{{Rate: r}}})
		assert.Error(t, err)
	}
	for _, r := range []ratelimit.Rate{
		ratelimit.PerHour(1).WithBurst(800_000),                         // some 91 years
		ratelimit.PerSecond(1_000_000_000).WithBurst(math.MaxInt64 / 4), // some 73 years
		ratelimit.Daily(math.MaxInt64),
	} {
		require.NoError(t, r.Validate(), "%+v", r)
	}
	l, err := ratelimit.New(ratelimit.Config{})
	require.NoError(t, err)
	res, err := l.Take(context.Background(), "k", ratelimit.PerHour(1).WithBurst(800_000), 1)
	require.NoError(t, err)
	assert.Equal(t, int64(800_000-1), res.Remaining)
	assert.Equal(t, time.Duration(0), res.RetryAfter)
}
