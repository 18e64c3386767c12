package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxy trusted ignores header", nil, "203.0.113.9:1234", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted proxy, one hop", lb, "10.0.0.2:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client spoofs left entries", lb, "10.0.0.2:80", []string{"1.1.1.1, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", lb, "10.0.0.2:80", []string{"198.51.100.7, 10.1.1.1, 10.2.2.2"}, "198.51.100.7"},
		{"several header lines", lb, "10.0.0.2:80", []string{"9.9.9.9", "198.51.100.7, 10.1.1.1"}, "198.51.100.7"},
		{"untrusted peer ignores header", lb, "192.0.2.1:80", []string{"198.51.100.7"}, "192.0.2.1"},
		{"all hops trusted gives left-most", lb, "10.0.0.2:80", []string{"10.9.9.9"}, "10.9.9.9"},
		{"garbage hop stops at last trusted", lb, "10.0.0.2:80", []string{"198.51.100.7, not-an-ip"}, "10.0.0.2"},
		{"hop with port", lb, "10.0.0.2:80", []string{"198.51.100.7:5555"}, "198.51.100.7"},
		{"bracketed ipv6 hop", lb, "[2001:db8::1]:80", []string{"[2001:db8:ffff::1]", "[2a00::1]"}, "2a00::1"},
		{"ipv4-mapped peer", nil, "[::ffff:192.0.2.5]:80", nil, "192.0.2.5"},
		{"no header behind proxy", lb, "10.0.0.2:80", nil, "10.0.0.2"},
		{"unparseable peer", lb, "pipe", []string{"198.51.100.7"}, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := Resolver{TrustedProxies: tt.trusted}.ClientIP(r)
			assert.Equal(t, tt.want, got.String())
		})
	}
}

func TestClientIPCustomHeader(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.2:80"
	r.Header.Set("X-Real-IP", "198.51.100.7")
	r.Header.Set("X-Forwarded-For", "1.1.1.1")
	res := Resolver{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Header: "X-Real-IP"}
	assert.Equal(t, "198.51.100.7", res.ClientIP(r).String())
}

func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.1.1.1, 10.0.0.1", "[::1]:80, ,", ",,,", "[", "::ffff:1.2.3.4%eth0"} {
		f.Add("10.0.0.2:80", s)
	}
	res := Resolver{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::/0")}}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := res.ClientIP(r)
		if got.IsValid() && got.Is4In6() {
			t.Fatalf("mapped address %v not unmapped", got)
		}
	})
}
