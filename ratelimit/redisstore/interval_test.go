package redisstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tollgate-dev/tollgate/ratelimit"
)

// The script keeps time in microseconds: the interval must never be shorter than the
// rate's, or the store admits more than the rate.
func TestIntervalMicrosNeverAdmitsMoreThanTheRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rate ratelimit.Rate
		want int64
	}{
		{ratelimit.PerSecond(600_000), 2},
		{ratelimit.PerSecond(3), 333_334},
		{ratelimit.PerSecond(1000), 1000},
		{ratelimit.PerSecond(1_000_000), 1},
		{ratelimit.PerSecond(1_000_000_000), 1},
		{ratelimit.Per(3, 10*time.Microsecond), 4},
		{ratelimit.PerHour(1), int64(time.Hour / time.Microsecond)},
	}
	for _, tt := range tests {
		t.Run(tt.rate.String(), func(t *testing.T) {
			iv := intervalMicros(tt.rate)
			assert.Equal(t, tt.want, iv)
			assert.GreaterOrEqual(t, time.Duration(iv)*time.Microsecond*time.Duration(tt.rate.Quota), tt.rate.Window)
		})
	}
}
