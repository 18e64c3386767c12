package clients

import (
	"fmt"
	"net/url"
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

func TestBreakerKey(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://API.Example.com/x":    "api.example.com:443",
		"http://api.example.com":       "api.example.com:80",
		"HTTPS://api.example.com:8443": "api.example.com:8443",
		"http://[::1]/":                "[::1]:80",
		"ftp://api.example.com":        "",
		"/relative":                    "",
		"http:///path":                 "",
	} {
		u, err := url.Parse(raw)
		assert.NoError(t, err)
		got, ok := breakerKey(u)
		assert.Equal(t, want, got, raw)
		assert.Equal(t, want != "", ok, raw)
	}
}
