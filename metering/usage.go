package metering

import (
	"context"
	"fmt"
	"time"
)

// Window is the length of the periods usage is summed over. Periods start at UTC
// boundaries: the hour, midnight, the first of the month.
type Window string

// Windows.
const (
	Hour  Window = "hour"
	Day   Window = "day"
	Month Window = "month"
)

// Start returns the start of the period of w that contains t, in UTC.
func (w Window) Start(t time.Time) time.Time {
	t = t.UTC()
	switch w {
	case Hour:
		return t.Truncate(time.Hour)
	case Day:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return t
}

// Valid reports whether w is one of Hour, Day and Month.
func (w Window) Valid() bool { return w == Hour || w == Day || w == Month }

// UsageQuery selects usage to sum.
type UsageQuery struct {
	// Consumer whose usage is summed; required, so one caller never reads another's usage
	// by leaving it out.
	Consumer string
	// Meter restricts the result to one meter; empty means every meter.
	Meter string
	// Window is the period length of each row.
	Window Window
	// From (inclusive) and To (exclusive) bound the event times. Rows cover whole periods
	// from Window.Start(From); zero To means no upper bound. To must fall on a whole hour:
	// stores may keep hourly totals only, and every reader answers the same query alike.
	From, To time.Time
}

// Validate reports whether q can be answered.
func (q UsageQuery) Validate() error {
	if q.Consumer == "" {
		return fmt.Errorf("metering: usage query without a consumer")
	}
	if !q.Window.Valid() {
		return fmt.Errorf("metering: usage window %q, want hour, day or month", q.Window)
	}
	if !q.To.IsZero() && q.To.Before(q.From) {
		return fmt.Errorf("metering: usage query ends before it starts")
	}
	if !q.To.IsZero() && !q.To.Equal(q.To.Truncate(time.Hour)) {
		return fmt.Errorf("metering: usage query To %s is not on a whole hour", q.To.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// UsageRow is the usage of one meter by one consumer in one period.
type UsageRow struct {
	Consumer string    `json:"consumer"`
	Meter    string    `json:"meter"`
	Start    time.Time `json:"start" doc:"Start of the period (UTC)"`
	// Sum is the total units; Count is how many events carried the meter.
	Sum   int64 `json:"sum"`
	Count int64 `json:"count"`
}

// UsageReader sums stored usage. Rows come ordered by Start then Meter, one per period and
// meter that has usage; periods without usage are absent. Implementations: Store (local)
// and pgsink.
type UsageReader interface {
	Usage(ctx context.Context, q UsageQuery) ([]UsageRow, error)
}

// Total sums rows per meter, the shape a "usage this month" endpoint returns.
func Total(rows []UsageRow) map[string]int64 {
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Meter] += r.Sum
	}
	return out
}
