package ratelimit

import "time"

// decision is the outcome of one GCRA or quota step, in nanoseconds.
type decision struct {
	allowed   bool
	remaining int64
	reset     int64
	retry     int64
}

// fill sets res to the Result of d against rate.
//
// It writes field by field into the caller's result on purpose. Result and Rate have too
// many fields for the compiler to keep in registers, so a composite literal is assembled in
// memory and copied with 16-byte moves that read back narrower stores made just before; the
// CPU cannot forward such stores to the load and stalls. Writing the fields in place avoids
// the copies.
func (d decision) fill(res *Result, rate *Rate) {
	res.Allowed = d.allowed
	res.Rate.Quota = rate.Quota
	res.Rate.Window = rate.Window
	res.Rate.Burst = rate.Burst
	res.Rate.Calendar = rate.Calendar
	res.Rate.Location = rate.Location
	res.Remaining = d.remaining
	res.ResetAfter = time.Duration(d.reset)
	res.RetryAfter = time.Duration(d.retry)
}

// gcra applies the generic cell rate algorithm to the theoretical arrival time tat (the
// instant the bucket would be full again) for n units at emission interval t with a burst of
// burst units. It returns the decision and the tat to store. n == 0 peeks: it reports whether
// one more unit would pass.
//
// GCRA keeps one integer per key and needs no timer: a key whose tat is in the past is
// indistinguishable from a key never seen, so idle keys can be dropped without losing state.
// The admitted path costs one division, which matters at tens of nanoseconds per decision.
func gcra(now, tat, t, burst, n int64) (decision, int64) {
	if tat < now {
		tat = now
	}
	tau := t * burst
	d := decision{reset: tat - now}
	if n > 0 && n <= burst {
		next := tat + n*t
		allowAt := next - tau
		if allowAt <= now {
			d.allowed = true
			d.remaining = (now + tau - next) / t
			d.reset = next - now
			return d, next
		}
		d.retry = allowAt - now
	}
	d.remaining = (now + tau - tat) / t
	switch {
	case n == 0:
		d.allowed = d.remaining >= 1
		if !d.allowed {
			d.retry = tat + t - tau - now
		}
	case n > burst:
		// Larger than the burst: no amount of waiting admits it.
		d.retry = d.reset
	}
	return d, tat
}

// fixedWindow applies a calendar quota: used units so far in the period ending at end.
func fixedWindow(now, end, used, quota, n int64) (decision, int64) {
	d := decision{reset: end - now, remaining: quota - used}
	if n == 0 {
		d.allowed = d.remaining >= 1
	} else if n <= d.remaining {
		d.allowed = true
		used += n
		d.remaining -= n
	}
	if !d.allowed {
		d.retry = d.reset
	}
	return d, used
}
