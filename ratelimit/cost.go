package ratelimit

import "context"

type costKey struct{}

// WithCost returns a copy of ctx in which the request costs n units of every policy,
// overriding the operation's [Cost]. A middleware that runs before the limiter sets it, for
// example from the size of a batch.
func WithCost(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, costKey{}, n)
}

// CostFromContext returns the cost set with [WithCost].
func CostFromContext(ctx context.Context) (n int, ok bool) {
	n, ok = ctx.Value(costKey{}).(int)
	return n, ok
}
