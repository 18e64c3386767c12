package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Decision is the outcome of every policy that applied to one request.
type Decision struct {
	// Allowed reports whether every policy admitted the request.
	Allowed bool
	// Policies holds the result of each policy that applied, in evaluation order: smoothing
	// rates first, then quotas.
	Policies []PolicyResult
	// RetryAfter is the longest wait among the policies that refused the request.
	RetryAfter time.Duration
}

// PolicyResult is the result of one policy.
type PolicyResult struct {
	// Name is the policy name.
	Name string
	Result
}

// Violated returns the names of the policies that refused the request.
func (d Decision) Violated() []string {
	var names []string
	for _, p := range d.Policies {
		if !p.Allowed {
			names = append(names, p.Name)
		}
	}
	return names
}

// QuotaExceeded reports whether a calendar quota refused the request (rather than only a
// smoothing rate).
func (d Decision) QuotaExceeded() bool {
	for _, p := range d.Policies {
		if !p.Allowed && p.Rate.IsQuota() {
			return true
		}
	}
	return false
}

// Check applies the configured policies, then extra, to one request that costs cost units.
// A cost above the capacity of an applicable policy is a [*CostError] and spends nothing.
// Smoothing rates are evaluated before quotas and the first refusal stops spending: a burst
// that is turned away does not eat into the day's quota. Policies after a refusal are
// peeked, so every policy is still reported. An error means a store could not decide.
func (l *Limiter) Check(ctx context.Context, r *Request, cost int, extra ...Policy) (Decision, error) {
	ps, err := compile(extra)
	if err != nil {
		return Decision{}, err
	}
	if len(ps) > 0 {
		if err := uniqueNames(l.policies, ps); err != nil {
			return Decision{}, err
		}
	}
	return l.check(ctx, r, cost, ps)
}

func (l *Limiter) check(ctx context.Context, r *Request, cost int, ops []policy) (Decision, error) {
	// Room for the usual handful of policies on the stack; more spill to the heap.
	var allBuf [8]*policy
	all := allBuf[:0]
	for i := range l.policies {
		all = append(all, &l.policies[i])
	}
	for i := range ops {
		all = append(all, &ops[i])
	}
	// Stable: within each group the configured order is kept.
	slices.SortStableFunc(all, func(a, b *policy) int {
		qa, qb := a.quota, b.quota
		switch {
		case qa == qb:
			return 0
		case qb:
			return -1
		}
		return 1
	})
	// Resolve every policy before spending anything: a cost no policy could ever admit is
	// the request's fault and must not spend the policies evaluated before it.
	type applied struct {
		p    *policy
		rate Rate
		key  string
	}
	var todoBuf [8]applied
	todo := todoBuf[:0]
	for _, p := range all {
		rate := p.rateFor(ctx)
		if rate.IsZero() {
			continue
		}
		key, ok := p.storeKey(ctx, r)
		if !ok {
			continue
		}
		if c := rate.Capacity(); int64(cost) > c {
			return Decision{}, &CostError{Policy: p.Name, Cost: int64(cost), Capacity: c}
		}
		todo = append(todo, applied{p, rate, key})
	}
	d := Decision{Allowed: true, Policies: make([]PolicyResult, 0, len(todo))}
	for _, a := range todo {
		rate := a.rate
		n := cost
		if !d.Allowed {
			n = 0
		}
		res, err := l.Take(ctx, a.key, rate, n)
		if err != nil {
			return Decision{}, err
		}
		if n == 0 {
			// A peek answers for one unit; what matters here is whether this policy would
			// also refuse the request, so that Retry-After covers every obstacle.
			res.Allowed = res.Remaining >= int64(cost)
			if res.Allowed {
				res.RetryAfter = 0
			} else if res.RetryAfter == 0 || rate.IsQuota() {
				res.RetryAfter = res.ResetAfter
			}
		}
		if !res.Allowed {
			d.Allowed = false
			d.RetryAfter = max(d.RetryAfter, res.RetryAfter)
		}
		d.Policies = append(d.Policies, PolicyResult{Name: a.p.Name, Result: res})
	}
	return d, nil
}

// CostError reports a request whose cost exceeds what a policy can ever admit at once (its
// burst, or its quota): waiting would not help, so the middleware answers 400 rather than
// 429 with a Retry-After the client would follow forever. It matches [ErrCostExceedsCapacity].
type CostError struct {
	// Policy names the policy, Cost is what the request asked for and Capacity the most the
	// policy admits at once ([Rate.Capacity]).
	Policy         string
	Cost, Capacity int64
}

func (e *CostError) Error() string {
	return fmt.Sprintf("cost %d exceeds the capacity %d of policy %s", e.Cost, e.Capacity, e.Policy)
}

// Is makes errors.Is(err, ErrCostExceedsCapacity) true.
func (e *CostError) Is(target error) bool { return target == ErrCostExceedsCapacity }
