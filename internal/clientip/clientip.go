// Package clientip finds the address of the client that sent a request, trusting forwarding
// headers only when they were added by a proxy the operator named.
//
// By default no proxy is trusted and the peer address of the connection is the client: an
// X-Forwarded-For header can be written by anyone, so reading it unconditionally would let a
// caller pick its own rate-limit or throttle key.
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

// Resolver extracts client addresses. The zero value trusts no proxy.
type Resolver struct {
	// TrustedProxies lists the networks of the reverse proxies and load balancers in front
	// of the service. Forwarding headers are read only when the connection comes from one of
	// them, and only the hops they appended are skipped.
	TrustedProxies []netip.Prefix
	// Header is the forwarding header to read; empty means X-Forwarded-For. A header that
	// holds one address set by the proxy (such as X-Real-IP) works too.
	Header string
}

// ClientIP returns the client address of r, or the zero Addr when the peer address cannot be
// parsed (a request that did not come from a network listener, for example).
func (res Resolver) ClientIP(r *http.Request) netip.Addr {
	peer := parseHostPort(r.RemoteAddr)
	if !peer.IsValid() || !res.trusted(peer) {
		return peer
	}
	name := res.Header
	if name == "" {
		name = "X-Forwarded-For"
	}
	values := r.Header.Values(name)
	// Walk right to left: the right-most entries were appended by our own proxies; the first
	// address that is not one of them is the client as far as anyone we trust can tell.
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop, v = v, ""
			}
			addr := parseHop(strings.TrimSpace(hop))
			if !addr.IsValid() {
				// A malformed hop breaks the chain of trust; the last trusted hop is the
				// best answer we can give without believing the garbage.
				return peer
			}
			if !res.trusted(addr) {
				return addr
			}
			peer = addr
		}
	}
	return peer
}

// Peer returns the address of a connection's peer from its "ip:port" form
// (http.Request.RemoteAddr), or the zero Addr when it cannot be parsed. It is ClientIP for a
// Resolver that trusts no proxy, without a request to read it from.
func Peer(remoteAddr string) netip.Addr { return parseHostPort(remoteAddr) }

func (res Resolver) trusted(a netip.Addr) bool {
	for _, p := range res.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostPort accepts "ip:port", "[ipv6]:port" and a bare ip.
func parseHostPort(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// parseHop accepts the forms proxies write into X-Forwarded-For: a bare address, an
// address with a port, or a bracketed IPv6 address.
func parseHop(s string) netip.Addr {
	if a := parseHostPort(s); a.IsValid() {
		return a
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		return parseHostPort(s[1 : len(s)-1])
	}
	return netip.Addr{}
}
