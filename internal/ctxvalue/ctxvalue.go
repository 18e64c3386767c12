// Package ctxvalue carries one value in a context, as context.WithValue does, in a struct
// that can be a field of a larger one, so that middleware which already allocates a
// per-request value pays nothing more for the context that carries it.
package ctxvalue

import "context"

// Context answers keys of type K with Val and asks its parent for everything else. K is an
// unexported zero-size key type, so every key of that type is the same key.
type Context[K comparable, V any] struct {
	context.Context
	Val V
}

// Value implements context.Context.
func (c *Context[K, V]) Value(key any) any {
	if _, ok := key.(K); ok {
		return c.Val
	}
	return c.Context.Value(key)
}
