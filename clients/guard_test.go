package clients_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/clients"
)

func TestGuardCheck(t *testing.T) {
	t.Parallel()
	g := &clients.Guard{}
	for _, tc := range []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true}, // IPv4-mapped loopback
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true}, // AWS, GCP, Azure metadata
		{"fd00:ec2::254", true},   // AWS metadata over IPv6
		{"100.100.100.200", true}, // Alibaba metadata
		{"192.0.0.192", true},     // Oracle metadata
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fc00::1", true},
		{"0.0.0.0", true},
		{"::", true},
		{"224.0.0.1", true},
		{"255.255.255.255", true},
		{"64:ff9b::a00:1", true}, // NAT64 of 10.0.0.1
		{"2002:a00:1::", true},   // 6to4 of 10.0.0.1
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"172.32.0.1", false},
		{"2606:4700:4700::1111", false},
		{"93.184.216.34", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := g.Check(netip.MustParseAddr(tc.addr))
			if tc.blocked {
				assert.ErrorIs(t, err, clients.ErrBlockedAddress)
			} else {
				assert.NoError(t, err)
			}
		})
	}
	allow := &clients.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}}
	assert.NoError(t, allow.Check(netip.MustParseAddr("10.0.0.7")))
	assert.ErrorIs(t, allow.Check(netip.MustParseAddr("10.0.1.7")), clients.ErrBlockedAddress)
}

func TestGuardRefusesAtConnectTime(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(http.ResponseWriter, *http.Request) {})
	c := newClient(t, clients.Config{Guard: &clients.Guard{}, Breaker: clients.BreakerConfig{Failures: 1}})
	// A public-looking name that resolves to loopback: only a check after DNS catches it.
	_, port, _ := net.SplitHostPort(u.Listener.Addr().String())
	for _, host := range []string{"127.0.0.1", "localhost"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+net.JoinHostPort(host, port), nil)
		_, err := c.Do(req)
		require.ErrorIs(t, err, clients.ErrBlockedAddress, host)
		var e *clients.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 1, e.Attempts, "a blocked address is not retried")
		assert.Equal(t, clients.StateClosed, c.BreakerState(net.JoinHostPort(host, port)), "nor counted against the upstream")
	}
	assert.Zero(t, u.hits.Load())

	// A redirect to an internal address is caught when the redirect is dialled.
	allowed := newClient(t, clients.Config{Guard: &clients.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, MaxRedirects: 2})
	redirect := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://[::1]:"+port+"/", http.StatusFound)
	})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, redirect.URL, nil)
	_, err := allowed.HTTPClient().Do(req)
	require.ErrorIs(t, err, clients.ErrBlockedAddress)
	assert.EqualValues(t, 1, redirect.hits.Load())
}

func TestGuardDialer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := (&clients.Guard{}).Dialer().DialContext(ctx, "tcp", closedAddr(t))
	require.ErrorIs(t, err, clients.ErrBlockedAddress)
}
