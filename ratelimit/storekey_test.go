package ratelimit

import (
	"context"
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
)

// TestStoreKeyMatchesTheKeyFunctions: the store key built inline is the policy name, a
// NUL, what the key function returns and the operation for an operation's own policy,
// exactly as when the key was the concatenation of those strings (counters in Redis keep
// their names across an upgrade; TestKeyFuncs pins the key functions' own values), for
// every kind of caller and address.
func TestStoreKeyMatchesTheKeyFunctions(t *testing.T) {
	t.Parallel()
	withPrincipal := func(p *auth.Principal) context.Context { return auth.NewContext(context.Background(), p) }
	ctxs := map[string]context.Context{
		"anonymous":     context.Background(),
		"consumer":      withPrincipal(&auth.Principal{Consumer: "acme", Plan: "pro"}),
		"no plan":       withPrincipal(&auth.Principal{Consumer: "acme"}),
		"empty subject": withPrincipal(&auth.Principal{}),
	}
	addrs := []netip.Addr{{}, netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8:1:2:3:4:5:6"),
		netip.MustParseAddr("::ffff:192.0.2.7"), netip.MustParseAddr("fe80::1%eth0")}
	funcs := map[string]KeyFunc{"nil": nil, "ByConsumer": ByConsumer, "ByIP": ByIP, "ByPlan": ByPlan, "ByOperation": ByOperation}
	for fname, f := range funcs {
		for _, perOp := range []bool{false, true} {
			ps, err := compile([]Policy{{Name: "per-minute", Rate: PerMinute(10), Key: f}})
			require.NoError(t, err)
			p := &ps[0]
			p.perOp = perOp
			require.NotEqual(t, keyCustom, p.keyKind, fname)
			want := f
			if want == nil {
				want = ByConsumer
			}
			for cname, ctx := range ctxs {
				for _, a := range addrs {
					r := &Request{Operation: "getThing", ClientIP: a}
					wk, wok := want(ctx, r)
					gk, gok := p.storeKey(ctx, r)
					require.Equal(t, wok, gok, "%s %s %v", fname, cname, a)
					if !wok {
						continue
					}
					exp := "per-minute\x00" + wk
					if perOp {
						exp += "|o:getThing"
					}
					assert.Equal(t, exp, gk, "%s %s %v perOp=%v", fname, cname, a, perOp)
				}
			}
		}
	}
}

// TestStoreKeyCustomKeyReadsHeaders: a key function of the user's own still gets a Request
// whose Header reads the request's headers, through either adapter's source.
func TestStoreKeyCustomKeyReadsHeaders(t *testing.T) {
	t.Parallel()
	byTenant := func(_ context.Context, r *Request) (string, bool) {
		v := r.Header("X-Tenant")
		return "t:" + v, v != ""
	}
	ps, err := compile([]Policy{{Name: "tenant", Rate: PerMinute(10), Key: byTenant}})
	require.NoError(t, err)
	p := &ps[0]
	assert.Equal(t, keyCustom, p.keyKind)
	h := http.Header{}
	h.Set("X-Tenant", "blue")
	k, ok := p.storeKey(context.Background(), &Request{header: stdHeader(h)})
	require.True(t, ok)
	assert.Equal(t, "tenant\x00t:blue", k)
	k, ok = p.storeKey(context.Background(), &Request{Header: func(string) string { return "green" }})
	require.True(t, ok)
	assert.Equal(t, "tenant\x00t:green", k)
	_, ok = p.storeKey(context.Background(), &Request{header: stdHeader(http.Header{})})
	assert.False(t, ok, "the key function's 'does not apply' is kept")
}
