package clients_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/clients"
)

// TestGuardOverridesTransportDialers checks that no field of a caller's *http.Transport that
// picks the address to connect to can route a guarded client around the guard.
func TestGuardOverridesTransportDialers(t *testing.T) {
	t.Parallel()
	plain := newUpstream(t, func(http.ResponseWriter, *http.Request) {})
	var tlsHits atomic.Int64
	secure := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { tlsHits.Add(1) }))
	t.Cleanup(secure.Close)

	// The proxy listens on an address the guard allows, so only the proxy setting itself
	// would let the request through to the blocked target.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	var proxyHits atomic.Int64
	proxy := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { proxyHits.Add(1) }))
	proxy.Listener = ln
	proxy.Start()
	t.Cleanup(proxy.Close)
	proxyURL, _ := url.Parse(proxy.URL)

	dialPlain := func(string, string) (net.Conn, error) { return net.Dial("tcp", plain.Listener.Addr().String()) }
	dialTLS := func(string, string) (net.Conn, error) {
		return tls.Dial("tcp", secure.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	}
	for _, tc := range []struct {
		name   string
		target string
		set    func(*http.Transport)
		hits   func() int64
	}{
		{"Proxy", plain.URL, func(tr *http.Transport) { tr.Proxy = http.ProxyURL(proxyURL) }, proxyHits.Load},
		// Dial is shadowed by the DialContext the client sets, but is cleared all the same.
		{"Dial", plain.URL, func(tr *http.Transport) {
			//lint:ignore SA1019 the deprecated field is what is tested
			tr.Dial = dialPlain
		}, plain.hits.Load},
		{"DialTLSContext", secure.URL, func(tr *http.Transport) {
			tr.DialTLSContext = func(context.Context, string, string) (net.Conn, error) { return dialTLS("", "") }
		}, tlsHits.Load},
		{"DialTLS", secure.URL, func(tr *http.Transport) {
			//lint:ignore SA1019 the deprecated field is what is tested
			tr.DialTLS = dialTLS
		}, tlsHits.Load},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{}
			tc.set(tr)
			c := newClient(t, clients.Config{
				Transport: tr,
				Guard:     &clients.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}},
			})
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, tc.target, nil)
			resp, err := c.Do(req)
			if resp != nil {
				_ = resp.Body.Close()
			}
			require.ErrorIs(t, err, clients.ErrBlockedAddress)
			assert.Zero(t, tc.hits())
		})
	}
}
