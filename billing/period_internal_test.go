package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPeriodAt(t *testing.T) {
	t.Parallel()
	london, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, london)
		require.NoError(t, err)
		return v
	}
	for _, tc := range []struct {
		name        string
		started, t  string
		anniversary bool
		start, end  string
	}{
		{"first period is partial", "2026-01-15 10:30", "2026-01-20 00:00", false, "2026-01-15 10:30", "2026-02-01 00:00"},
		{"calendar month", "2026-01-15 10:30", "2026-03-31 23:59", false, "2026-03-01 00:00", "2026-04-01 00:00"},
		{"summer time in London", "2026-01-15 10:30", "2026-07-01 00:00", false, "2026-07-01 00:00", "2026-08-01 00:00"},
		{"year end", "2026-01-15 10:30", "2026-12-31 12:00", false, "2026-12-01 00:00", "2027-01-01 00:00"},
		{"anniversary", "2026-01-15 10:30", "2026-03-20 00:00", true, "2026-03-15 00:00", "2026-04-15 00:00"},
		{"anniversary before the day", "2026-01-15 10:30", "2026-03-10 00:00", true, "2026-02-15 00:00", "2026-03-15 00:00"},
		{"31st clamps to February", "2026-01-31 09:00", "2026-02-28 12:00", true, "2026-02-28 00:00", "2026-03-31 00:00"},
		{"31st in a leap year", "2028-01-31 09:00", "2028-02-29 12:00", true, "2028-02-29 00:00", "2028-03-31 00:00"},
		{"anniversary first period", "2026-01-31 09:00", "2026-02-10 00:00", true, "2026-01-31 09:00", "2026-02-28 00:00"},
		{"before the start", "2026-01-15 10:30", "2026-01-01 00:00", false, "2026-01-15 10:30", "2026-02-01 00:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, e := periodAt(at(tc.started), at(tc.t), london, tc.anniversary)
			assert.Equal(t, at(tc.start).UTC(), s)
			assert.Equal(t, at(tc.end).UTC(), e)
		})
	}
}
