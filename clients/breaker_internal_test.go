package clients

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBreakersBounded(t *testing.T) {
	t.Parallel()
	b := newBreakers(BreakerConfig{Failures: 1}, "webhooks")
	open := b.get("down.example:443")
	_, _ = open.cb.Execute(func() (outcome, error) { return outcome{}, errCallFailed })
	for i := range maxBreakers + 10 {
		b.get(fmt.Sprintf("host-%d.example:443", i))
	}
	assert.LessOrEqual(t, b.n.Load(), int64(maxBreakers))
	assert.Equal(t, StateOpen, b.state("down.example:443"), "an open breaker is kept")
	assert.Same(t, open, b.get("down.example:443"))
}
