package ctxvalue

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

type key struct{}
type otherKey struct{}

func TestContextAnswersItsKeyAndDelegates(t *testing.T) {
	t.Parallel()
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "parent"))
	c := &Context[key, *int]{Context: parent, Val: new(int)}
	assert.Same(t, c.Val, c.Value(key{}))
	assert.Equal(t, "parent", c.Value(otherKey{}))
	assert.Nil(t, c.Value("key"))
	cancel()
	assert.ErrorIs(t, c.Err(), context.Canceled, "cancellation is the parent's")
}
