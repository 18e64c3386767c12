package observe

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitHostPort(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		host string
		port int
	}{
		{"", "", 0},
		{"example.com", "example.com", 0},
		{"example.com:8443", "example.com", 8443},
		{"10.0.0.1:55012", "10.0.0.1", 55012},
		{"[::1]:80", "::1", 80},
		{"[::1]", "::1", 0},
		{"::1", "::1", 0},
		{"host:notaport", "host", 0},
		{"host:99999", "host", 0},
		{"[broken", "[broken", 0},
	}
	for _, c := range cases {
		host, port := splitHostPort(c.in)
		assert.Equal(t, c.host, host, c.in)
		assert.Equal(t, c.port, port, c.in)
	}
}

func TestStatusClass(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]int{0: 0, 99: 0, 100: 1, 204: 2, 399: 3, 404: 4, 599: 5, 600: 0} {
		assert.Equal(t, want, statusClass(code), code)
	}
}

func TestOperationCacheIsBounded(t *testing.T) {
	t.Parallel()
	var c opCache
	for i := range maxOperations + 10 {
		c.forPattern("/p" + string(rune('a'+i%26)) + string(rune(i)))
	}
	assert.Equal(t, Unmatched, c.forPattern("/one-too-many").name)
	assert.Same(t, c.forPattern("/pa\x00"), c.forPattern("/pa\x00"), "known patterns stay cached")
}
