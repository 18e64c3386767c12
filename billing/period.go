package billing

import "time"

// Periods are calendar months in the biller's time zone. With [Config.Anniversary] they
// run from the day of the month the subscription started instead (the 31st falls back to a
// shorter month's last day); otherwise a subscription's first period runs from its start to
// the first of the next month, so every later period matches a calendar-month quota.

// periodAt returns the billing period [start, end) that contains t for a subscription
// started at started.
func periodAt(started, t time.Time, loc *time.Location, anniversary bool) (time.Time, time.Time) {
	if t.Before(started) {
		t = started
	}
	lt := t.In(loc)
	ls := started.In(loc)
	day := 1
	if anniversary {
		day = ls.Day()
	}
	start := boundary(lt.Year(), lt.Month(), day, loc)
	if start.After(lt) {
		start = boundary(lt.Year(), lt.Month()-1, day, loc)
	}
	end := boundary(start.Year(), start.Month()+1, day, loc)
	if start.Before(started) {
		start = started
	}
	return start.UTC(), end.UTC()
}

// boundary is midnight of day in month m of year y, clamped to the month's last day.
func boundary(y int, m time.Month, day int, loc *time.Location) time.Time {
	first := time.Date(y, m, 1, 0, 0, 0, 0, loc)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(day, last), 0, 0, 0, 0, loc)
}
