package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Calendar selects how a [Rate] measures time.
type Calendar uint8

const (
	// Smooth is a rolling limit enforced with the generic cell rate algorithm (GCRA): capacity
	// refills continuously at Quota per Window, and Burst units may be spent at once.
	Smooth Calendar = iota
	// Day is a quota that resets at midnight in the rate's time zone.
	Day
	// Month is a quota that resets at midnight on the first day of the month in the rate's
	// time zone.
	Month
)

// Rate is how much may be spent per unit of time, in cost units (one request costs one unless
// an operation or [WithCost] says otherwise).
//
// A smoothing rate ([PerSecond], [PerMinute], [PerHour], [PerDay], [Per]) protects the service
// from bursts. A calendar quota ([Daily], [Monthly]) enforces what a plan includes: it counts
// from the start of the day or month and resets all at once. The zero Rate is unlimited.
//
// Stores read the exported fields; users build rates with the constructors.
type Rate struct {
	// Quota is the number of units allowed per Window (per calendar period for quotas).
	Quota int64
	// Window is the period a smoothing rate spreads Quota over; unused by calendar quotas.
	Window time.Duration
	// Burst is the number of units a smoothing rate lets through at once; zero means Quota.
	// Calendar quotas have no burst: the whole quota is available from the start of the period.
	Burst int64
	// Calendar is Smooth for a rolling limit, or the calendar period of a quota.
	Calendar Calendar
	// Location is the time zone of calendar periods; nil means the limiter's
	// Config.Location, which defaults to UTC.
	Location *time.Location
}

// PerSecond allows n units per second, all of them at once.
func PerSecond(n int64) Rate { return Per(n, time.Second) }

// PerMinute allows n units per minute, all of them at once.
func PerMinute(n int64) Rate { return Per(n, time.Minute) }

// PerHour allows n units per hour, all of them at once.
func PerHour(n int64) Rate { return Per(n, time.Hour) }

// PerDay allows n units per rolling 24 hours, all of them at once. Use [Daily] for a quota
// that resets at midnight.
func PerDay(n int64) Rate { return Per(n, 24*time.Hour) }

// Per allows n units per window, all of them at once.
func Per(n int64, window time.Duration) Rate { return Rate{Quota: n, Window: window} }

// Daily is a quota of n units per calendar day.
func Daily(n int64) Rate { return Rate{Quota: n, Calendar: Day} }

// Monthly is a quota of n units per calendar month.
func Monthly(n int64) Rate { return Rate{Quota: n, Calendar: Month} }

// WithBurst returns r with at most b units spendable at once; the long-run rate is unchanged.
// A burst smaller than the quota smooths traffic: PerMinute(600).WithBurst(10) admits ten
// requests at once and then one every 100ms.
func (r Rate) WithBurst(b int64) Rate {
	r.Burst = b
	return r
}

// In returns r with calendar periods measured in loc.
func (r Rate) In(loc *time.Location) Rate {
	r.Location = loc
	return r
}

// IsZero reports whether r is the zero (unlimited) Rate.
func (r Rate) IsZero() bool { return r == Rate{} }

// IsQuota reports whether r is a calendar quota rather than a smoothing rate.
func (r Rate) IsQuota() bool { return r.Calendar != Smooth }

// Capacity is the most units that can be spent at once: Burst, or Quota when Burst is zero.
func (r Rate) Capacity() int64 {
	if r.Burst > 0 && r.Calendar == Smooth {
		return r.Burst
	}
	return r.Quota
}

// Interval is the time one unit takes to refill in a smoothing rate (Window / Quota).
func (r Rate) Interval() time.Duration {
	if r.Quota <= 0 {
		return 0
	}
	return r.Window / time.Duration(r.Quota)
}

var errInvalidRate = errors.New("ratelimit: invalid rate")

// maxRefill bounds how long a smoothing rate may take to refill from empty
// (Interval × Capacity): beyond it the GCRA arithmetic in nanoseconds would overflow and
// report a negative remaining count. A century is longer than any sensible limit.
const maxRefill = 100 * 365 * 24 * time.Hour

// Validate reports why r cannot be enforced, or nil. Besides the obvious, a smoothing rate
// must refill from empty (Interval × Capacity) within a century.
func (r Rate) Validate() error {
	if r.Quota > 0 && r.Burst >= 0 && (r.Calendar == Day || r.Calendar == Month ||
		r.Calendar == Smooth && r.Window >= time.Duration(r.Quota) && r.Interval() <= maxRefill/time.Duration(r.Capacity())) {
		return nil // the common case, checked without building errors; Take runs this
	}
	switch {
	case r.IsZero():
		return nil
	case r.Quota <= 0:
		return fmt.Errorf("%w: quota %d must be positive", errInvalidRate, r.Quota)
	case r.Burst < 0:
		return fmt.Errorf("%w: burst %d must not be negative", errInvalidRate, r.Burst)
	case r.Calendar > Month:
		return fmt.Errorf("%w: unknown calendar %d", errInvalidRate, r.Calendar)
	case r.Calendar == Smooth && r.Window <= 0:
		return fmt.Errorf("%w: window %v must be positive", errInvalidRate, r.Window)
	case r.Calendar == Smooth && r.Window < time.Duration(r.Quota):
		return fmt.Errorf("%w: %d per %v is finer than a nanosecond", errInvalidRate, r.Quota, r.Window)
	case r.Calendar == Smooth && r.Interval() > maxRefill/time.Duration(r.Capacity()):
		// Divided rather than multiplied, so that the check itself cannot overflow.
		return fmt.Errorf("%w: %d per %v with a burst of %d takes more than a century to refill", errInvalidRate, r.Quota, r.Window, r.Capacity())
	}
	return nil
}

// Period returns the calendar period of quota r that contains t: its start (inclusive) and
// end (exclusive). For a smoothing rate it returns t and t+Window.
func (r Rate) Period(t time.Time) (start, end time.Time) {
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	y, m, d := lt.Date()
	switch r.Calendar {
	case Day:
		start = time.Date(y, m, d, 0, 0, 0, 0, loc)
		return start, time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	case Month:
		start = time.Date(y, m, 1, 0, 0, 0, 0, loc)
		return start, time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	}
	return t, t.Add(r.Window)
}

// WindowSeconds is the window advertised in the RateLimit-Policy header: Window for a
// smoothing rate, the length of the current period for a quota.
func (r Rate) windowSeconds(now time.Time) int64 {
	if r.Calendar == Smooth {
		return ceilSeconds(r.Window)
	}
	s, e := r.Period(now)
	return ceilSeconds(e.Sub(s))
}

// String names the rate the way it reads in a policy: "per-minute", "daily", "per-90s".
func (r Rate) String() string {
	switch r.Calendar {
	case Day:
		return "daily"
	case Month:
		return "monthly"
	}
	switch r.Window {
	case 0:
		return "unlimited"
	case time.Second:
		return "per-second"
	case time.Minute:
		return "per-minute"
	case time.Hour:
		return "per-hour"
	case 24 * time.Hour:
		return "per-day"
	}
	return "per-" + r.Window.String()
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
