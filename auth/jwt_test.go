package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
)

const testAud = "https://api.example.com"

func newTokens(t *testing.T, c *clock, issuers ...auth.Issuer) *auth.Tokens {
	t.Helper()
	tk, err := auth.NewTokens(auth.JWTConfig{Issuers: issuers, Now: c.Now})
	require.NoError(t, err)
	return tk
}

func TestVerifyToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	es, ed, rs := newES256(t, "es"), newEdDSA(t, "ed"), newRS256("rs")
	srv := newJWKSServer(t, es, ed, rs)
	tk := newTokens(t, c, auth.Issuer{Issuer: srv.URL, Audience: testAud, TenantClaim: "org", PlanClaim: "plan"})

	for _, s := range []signer{es, ed, rs} {
		t.Run(s.method.Alg(), func(t *testing.T) {
			cl := claimsAt(c.Now(), srv.URL)
			cl["scp"] = []string{"extra", "deliveries:read"}
			cl["org"], cl["plan"] = "acme", "pro"
			p, err := tk.Verify(ctx, s.sign(t, cl, nil))
			require.NoError(t, err)
			assert.Equal(t, &auth.Principal{
				Consumer: "user-1", Subject: "user-1", Issuer: srv.URL, Tenant: "acme", Plan: "pro",
				Scopes: []string{"deliveries:read", "deliveries:write", "extra"}, Kind: auth.KindBearer,
				Expires: time.Unix(c.Now().Add(time.Hour).Unix(), 0),
			}, p)
		})
	}
	assert.EqualValues(t, 1, srv.discovery.Load(), "discovery once")
	assert.EqualValues(t, 1, srv.hits.Load(), "JWKS fetched once and cached")
}

func TestVerifyTokenNegative(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	now := c.Now()
	es, rs := newES256(t, "es"), newRS256("rs")
	attacker := newES256(t, "es") // same kid, different key
	srv := newJWKSServer(t, es, rs)
	var attackerHits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
		_, _ = w.Write(jwksOf(attacker))
	}))
	t.Cleanup(evil.Close)
	tk := newTokens(t, c, auth.Issuer{Issuer: "https://issuer.example.com/", Audience: testAud, JWKSURL: srv.URL + "/jwks", RefreshCooldown: time.Hour})
	iss := "https://issuer.example.com/"
	good := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		cl := claimsAt(now, iss)
		if mod != nil {
			mod(cl)
		}
		return cl
	}
	valid := es.sign(t, good(nil), nil)
	_, err := tk.Verify(ctx, valid)
	require.NoError(t, err, "the baseline token must pass, or the negatives prove nothing")

	parts := strings.Split(valid, ".")
	unsigned := func(header string) string {
		return b64u([]byte(header)) + "." + parts[1] + "."
	}
	rsPub, err := x509.MarshalPKIXPublicKey(rsaKey().Public())
	require.NoError(t, err)
	hsWithPublicKey := func(key []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, good(nil))
		tok.Header["kid"] = "rs"
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	tamper := func() string {
		var cl map[string]any
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, json.Unmarshal(raw, &cl))
		cl["scope"] = "admin"
		b, _ := json.Marshal(cl)
		return parts[0] + "." + b64u(b) + "." + parts[2]
	}

	cases := map[string]string{
		"alg none":                  unsigned(`{"alg":"none","kid":"es"}`),
		"alg None":                  unsigned(`{"alg":"None","kid":"es"}`),
		"alg NONE":                  unsigned(`{"alg":"NONE","kid":"es"}`),
		"alg nOnE":                  unsigned(`{"alg":"nOnE","kid":"es"}`),
		"alg none with signature":   unsigned(`{"alg":"none","kid":"es"}`) + parts[2],
		"alg missing":               unsigned(`{"kid":"es"}`) + parts[2],
		"HS256 with RSA public DER": hsWithPublicKey(rsPub),
		"HS256 with JWK n":          hsWithPublicKey(rsaKey().N.Bytes()),
		"ES256 token on RSA kid":    es.sign(t, good(nil), map[string]any{"kid": "rs"}),
		"RS512 on key pinned RS256": signer{kid: "rs", method: jwt.SigningMethodRS512, priv: rsaKey()}.sign(t, good(nil), nil),
		"expired at exactly exp":    es.sign(t, good(func(m jwt.MapClaims) { m["exp"] = now.Unix() }), nil),
		"expired":                   es.sign(t, good(func(m jwt.MapClaims) { m["exp"] = now.Add(-time.Minute).Unix() }), nil),
		"missing exp":               es.sign(t, good(func(m jwt.MapClaims) { delete(m, "exp") }), nil),
		"exp as string":             es.sign(t, good(func(m jwt.MapClaims) { m["exp"] = "9999999999" }), nil),
		"not yet valid (nbf)":       es.sign(t, good(func(m jwt.MapClaims) { m["nbf"] = now.Add(time.Minute).Unix() }), nil),
		"issued in the future":      es.sign(t, good(func(m jwt.MapClaims) { m["iat"] = now.Add(time.Minute).Unix() }), nil),
		"wrong aud":                 es.sign(t, good(func(m jwt.MapClaims) { m["aud"] = "https://other.example.com" }), nil),
		"aud prefix":                es.sign(t, good(func(m jwt.MapClaims) { m["aud"] = testAud + "/x" }), nil),
		"missing aud":               es.sign(t, good(func(m jwt.MapClaims) { delete(m, "aud") }), nil),
		"wrong iss":                 es.sign(t, good(func(m jwt.MapClaims) { m["iss"] = "https://evil.example.com/" }), nil),
		"iss without slash":         es.sign(t, good(func(m jwt.MapClaims) { m["iss"] = strings.TrimSuffix(iss, "/") }), nil),
		"missing iss":               es.sign(t, good(func(m jwt.MapClaims) { delete(m, "iss") }), nil),
		"missing sub":               es.sign(t, good(func(m jwt.MapClaims) { delete(m, "sub") }), nil),
		"unknown crit":              es.sign(t, good(nil), map[string]any{"crit": []string{"exp"}, "exp": 1}),
		"empty crit":                es.sign(t, good(nil), map[string]any{"crit": []string{}}),
		"hostile kid path":          es.sign(t, good(nil), map[string]any{"kid": "../../../../etc/passwd"}),
		"hostile kid huge":          es.sign(t, good(nil), map[string]any{"kid": strings.Repeat("k", 5000)}),
		"hostile kid number":        es.sign(t, good(nil), map[string]any{"kid": 7}),
		"hostile kid sql":           es.sign(t, good(nil), map[string]any{"kid": "' OR 1=1 --"}),
		"attacker key, same kid":    attacker.sign(t, good(nil), nil),
		"jku to attacker":           attacker.sign(t, good(nil), map[string]any{"jku": evil.URL}),
		"x5u to attacker":           attacker.sign(t, good(nil), map[string]any{"x5u": evil.URL}),
		"embedded jwk":              attacker.sign(t, good(nil), map[string]any{"jwk": attacker.jwk()}),
		"tampered payload":          tamper(),
		"signature stripped":        parts[0] + "." + parts[1] + ".",
		"two segments":              parts[0] + "." + parts[1],
		"four segments":             valid + ".x",
		"huge token":                es.sign(t, good(func(m jwt.MapClaims) { m["pad"] = strings.Repeat("x", 9000) }), nil),
		"garbage":                   "not-a-jwt",
		"empty":                     "",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := tk.Verify(ctx, tok)
			require.ErrorIs(t, err, auth.ErrUnauthenticated)
			assert.Nil(t, p)
		})
	}
	t.Run("kid length bound", func(t *testing.T) {
		// 256 bytes is the longest kid accepted; one more is refused before any lookup.
		_, err := tk.Verify(ctx, es.sign(t, good(nil), map[string]any{"kid": strings.Repeat("k", 256)}))
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
		assert.NotContains(t, err.Error(), `"kid" is not a short string`)
		_, err = tk.Verify(ctx, es.sign(t, good(nil), map[string]any{"kid": strings.Repeat("k", 257)}))
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
		assert.ErrorContains(t, err, `"kid" is not a short string`)
	})
	assert.Zero(t, attackerHits.Load(), "jku/x5u are never followed")
	assert.EqualValues(t, 1, srv.hits.Load(), "bad tokens cause no extra fetches within the cooldown")
}

func TestLeewayIsBounded(t *testing.T) {
	t.Parallel()
	_, err := auth.NewTokens(auth.JWTConfig{Issuers: []auth.Issuer{{Issuer: "https://i/", Audience: "a", Leeway: time.Hour}}})
	require.ErrorContains(t, err, "Leeway")
	_, err = auth.NewTokens(auth.JWTConfig{Issuers: []auth.Issuer{{Issuer: "https://i/", Audience: "a", Algorithms: []string{"HS256"}}}})
	require.ErrorContains(t, err, "HS256")
	_, err = auth.NewTokens(auth.JWTConfig{Issuers: []auth.Issuer{{Issuer: "https://i/"}}})
	require.ErrorContains(t, err, "Audience")
	_, err = auth.NewTokens(auth.JWTConfig{Issuers: []auth.Issuer{{Issuer: "http://example.com/", Audience: "a"}}})
	require.ErrorContains(t, err, "https")
}

func TestLeewayApplies(t *testing.T) {
	t.Parallel()
	c := newClock()
	es := newES256(t, "es")
	tk := newTokens(t, c, auth.Issuer{Issuer: "https://i/", Audience: testAud, JWKS: jwksOf(es), Leeway: 30 * time.Second})
	cl := claimsAt(c.Now(), "https://i/")
	cl["exp"] = c.Now().Add(-20 * time.Second).Unix()
	_, err := tk.Verify(context.Background(), es.sign(t, cl, nil))
	require.NoError(t, err)
	cl["exp"] = c.Now().Add(-31 * time.Second).Unix()
	_, err = tk.Verify(context.Background(), es.sign(t, cl, nil))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestSeveralIssuers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	a, b := newES256(t, "k"), newES256(t, "k")
	tk := newTokens(t, c,
		auth.Issuer{Issuer: "https://a/", Audience: testAud, JWKS: jwksOf(a)},
		auth.Issuer{Issuer: "https://b/", Audience: testAud, JWKS: jwksOf(b), ConsumerClaim: "azp"},
	)
	p, err := tk.Verify(ctx, a.sign(t, claimsAt(c.Now(), "https://a/"), nil))
	require.NoError(t, err)
	assert.Equal(t, "https://a/", p.Issuer)
	cl := claimsAt(c.Now(), "https://b/")
	cl["azp"] = "client-9"
	p, err = tk.Verify(ctx, b.sign(t, cl, nil))
	require.NoError(t, err)
	assert.Equal(t, "client-9", p.Consumer)
	// Issuer a's key cannot vouch for issuer b, even under the same kid.
	_, err = tk.Verify(ctx, a.sign(t, cl, nil))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestJWKSRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	k1, k2 := newES256(t, "k1"), newES256(t, "k2")
	srv := newJWKSServer(t, k1)
	tk := newTokens(t, c, auth.Issuer{Issuer: srv.URL, Audience: testAud, JWKSURL: srv.URL + "/jwks", RefreshCooldown: 30 * time.Second})
	tok1 := k1.sign(t, claimsAt(c.Now(), srv.URL), nil)
	_, err := tk.Verify(ctx, tok1)
	require.NoError(t, err)

	// The issuer rotates to k2 and retires k1.
	srv.set(k2)
	tok2 := k2.sign(t, claimsAt(c.Now(), srv.URL), nil)
	for range 5 {
		_, err = tk.Verify(ctx, tok2)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, "within the cooldown an unknown kid is refused")
	}
	assert.EqualValues(t, 1, srv.hits.Load(), "and causes no fetch")

	c.Advance(30 * time.Second)
	for range 5 {
		_, err = tk.Verify(ctx, tok2)
		require.NoError(t, err, "after the cooldown an unknown kid triggers one refresh")
	}
	assert.EqualValues(t, 2, srv.hits.Load())

	_, err = tk.Verify(ctx, tok1)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "a token signed by a retired key is refused, cached or not")

	// A flood of unknown kids fetches at most once per cooldown.
	for i := range 50 {
		forged := newES256(t, "unknown").sign(t, claimsAt(c.Now(), srv.URL), nil)
		_, _ = tk.Verify(ctx, forged)
		if i%10 == 9 {
			c.Advance(10 * time.Second)
		}
	}
	assert.LessOrEqual(t, srv.hits.Load(), int64(2+50/10*10/30+1))
}

func TestJWKSCacheControlAndOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	k1 := newES256(t, "k1")
	srv := newJWKSServer(t, k1)
	srv.cacheControl = "max-age=120"
	tk := newTokens(t, c, auth.Issuer{Issuer: srv.URL, Audience: testAud, JWKSURL: srv.URL + "/jwks", MaxStale: time.Hour})
	verify := func() error {
		// Fresh claims each time, so the verified-token cache does not answer.
		cl := claimsAt(c.Now(), srv.URL)
		cl["jti"] = c.Now().String()
		_, err := tk.Verify(ctx, k1.sign(t, cl, nil))
		return err
	}
	require.NoError(t, verify())
	c.Advance(119 * time.Second)
	require.NoError(t, verify())
	assert.EqualValues(t, 1, srv.hits.Load(), "fresh for max-age")
	c.Advance(time.Second)
	require.NoError(t, verify(), "a stale key set answers while it is refreshed")
	require.Eventually(t, func() bool { return srv.hits.Load() == 2 }, 10*time.Second, time.Millisecond, "refetched at max-age")

	srv.setDown(true)
	c.Advance(2 * time.Minute)
	require.NoError(t, verify(), "last good keys serve through the outage")
	c.Advance(30 * time.Minute)
	require.NoError(t, verify())
	c.Advance(30 * time.Minute)
	err := verify()
	require.ErrorIs(t, err, auth.ErrUnavailable, "but only up to MaxStale")
	assert.Equal(t, http.StatusServiceUnavailable, statusOf(err))

	srv.setDown(false)
	c.Advance(30 * time.Second)
	require.NoError(t, verify(), "recovers when the issuer is back")
}

func TestRediscoveryWhenKeysMove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	k1, k2 := newES256(t, "k1"), newES256(t, "k2")
	srv := newJWKSServer(t, k1)
	tk := newTokens(t, c, auth.Issuer{Issuer: srv.URL, Audience: testAud})
	_, err := tk.Verify(ctx, k1.sign(t, claimsAt(c.Now(), srv.URL), nil))
	require.NoError(t, err)

	srv.mu.Lock()
	srv.jwksPath = "/keys/v2"
	srv.mu.Unlock()
	srv.set(k2)
	c.Advance(time.Minute)
	tok2 := k2.sign(t, claimsAt(c.Now(), srv.URL), nil)
	_, err = tk.Verify(ctx, tok2)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "the old JWKS URL is gone; k2 is not known yet")
	c.Advance(time.Minute)
	_, err = tk.Verify(ctx, tok2)
	require.NoError(t, err, "discovery is repeated after a failed fetch and finds the new URL")
	assert.EqualValues(t, 2, srv.discovery.Load())
}

func TestDiscoveryIssuerMustMatch(t *testing.T) {
	t.Parallel()
	c := newClock()
	k := newES256(t, "k")
	srv := newJWKSServer(t, k)
	srv.issuer = "https://someone-else.example.com"
	tk := newTokens(t, c, auth.Issuer{Issuer: srv.URL, Audience: testAud})
	_, err := tk.Verify(context.Background(), k.sign(t, claimsAt(c.Now(), srv.URL), nil))
	require.ErrorIs(t, err, auth.ErrUnavailable)
	assert.ErrorContains(t, err, "someone-else")
}

func TestTokenCacheHonoursExp(t *testing.T) {
	t.Parallel()
	c := newClock()
	k := newES256(t, "k")
	tk := newTokens(t, c, auth.Issuer{Issuer: "https://i/", Audience: testAud, JWKS: jwksOf(k)})
	tok := k.sign(t, claimsAt(c.Now(), "https://i/"), nil)
	p1, err := tk.Verify(context.Background(), tok)
	require.NoError(t, err)
	p2, err := tk.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Same(t, p1, p2, "the second verification is served from the cache")
	c.Advance(time.Hour - time.Second)
	_, err = tk.Verify(context.Background(), tok)
	require.NoError(t, err)
	c.Advance(time.Second)
	_, err = tk.Verify(context.Background(), tok)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func statusOf(err error) int {
	var e *auth.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func TestStaleJWKSDoesNotWaitForSlowIssuer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	k := newES256(t, "k")
	var hits atomic.Int64
	slow := make(chan struct{}) // closed to let the issuer answer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) > 1 {
			<-slow // the refresh hangs until the test is done with it
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write(jwksOf(k))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(slow) }) // runs before srv.Close, which waits for the handler
	tk := newTokens(t, c, auth.Issuer{Issuer: srv.URL, Audience: testAud, JWKSURL: srv.URL + "/jwks"})
	verify := func(i int) error {
		cl := claimsAt(c.Now(), srv.URL)
		cl["jti"] = fmt.Sprint(c.Now().UnixNano(), i) // bypass the verified-token cache
		_, err := tk.Verify(ctx, k.sign(t, cl, nil))
		return err
	}
	require.NoError(t, verify(0))
	c.Advance(2 * time.Minute) // expired, well within MaxStale

	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- verify(i) }()
	}
	timeout := time.After(5 * time.Second) // the issuer does not answer before we release it
	for range n {
		select {
		case err := <-errs:
			require.NoError(t, err)
		case <-timeout:
			t.Fatal("requests with a stale but usable key set waited for the issuer")
		}
	}
	require.Eventually(t, func() bool { return hits.Load() >= 2 }, 10*time.Second, time.Millisecond, "a background refresh starts")
	require.NoError(t, verify(n))
	assert.EqualValues(t, 2, hits.Load(), "one refresh, however many requests")
}

func TestJWKSWaitEndsWithRequest(t *testing.T) {
	t.Parallel()
	c := newClock()
	k := newES256(t, "k")
	slow := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-slow
		_, _ = w.Write(jwksOf(k))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(slow) })
	tk := newTokens(t, c, auth.Issuer{Issuer: srv.URL, Audience: testAud, JWKSURL: srv.URL + "/jwks"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := tk.Verify(ctx, k.sign(t, claimsAt(c.Now(), srv.URL), nil))
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("a request waiting for the key set ignored its cancellation")
	}
}

func TestTokenCacheFollowsKeyMaterial(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	newSetup := func(t *testing.T, first signer) (*jwksServer, *auth.Tokens) {
		srv := newJWKSServer(t, first)
		return srv, newTokens(t, c, auth.Issuer{Issuer: srv.URL, Audience: testAud, JWKSURL: srv.URL + "/jwks"})
	}
	// refetch makes the verifier load the key set the server now publishes: a token with an
	// unknown kid forces a fetch once the cooldown has passed.
	refetch := func(t *testing.T, srv *jwksServer, tk *auth.Tokens) {
		before := srv.hits.Load()
		c.Advance(time.Minute)
		_, _ = tk.Verify(ctx, newES256(t, "trigger").sign(t, claimsAt(c.Now(), srv.URL), nil))
		require.Equal(t, before+1, srv.hits.Load())
	}

	for name, pair := range map[string][2]signer{
		"token without kid after single-key rotation": {newES256(t, ""), newES256(t, "b")},
		"kid reused for new material":                 {newES256(t, "k"), newES256(t, "k")},
	} {
		t.Run(name, func(t *testing.T) {
			srv, tk := newSetup(t, pair[0])
			tok := pair[0].sign(t, claimsAt(c.Now(), srv.URL), nil)
			_, err := tk.Verify(ctx, tok)
			require.NoError(t, err)
			srv.set(pair[1])
			refetch(t, srv, tk)
			_, err = tk.Verify(ctx, tok)
			require.ErrorIs(t, err, auth.ErrUnauthenticated, "the key that signed it is no longer published")
		})
	}
	t.Run("unchanged key keeps its tokens cached", func(t *testing.T) {
		a := newES256(t, "k")
		srv, tk := newSetup(t, a)
		tok := a.sign(t, claimsAt(c.Now(), srv.URL), nil)
		p1, err := tk.Verify(ctx, tok)
		require.NoError(t, err)
		refetch(t, srv, tk)
		p2, err := tk.Verify(ctx, tok)
		require.NoError(t, err)
		assert.Same(t, p1, p2, "a refetched set with the same key keeps the cache warm")
	})
}

// plainHTTPCatcher stands for whoever answers a fetch sent over plain http: it serves its
// own keys and records that it was asked.
type plainHTTPCatcher struct {
	next  http.RoundTripper
	body  []byte
	asked atomic.Int64
}

func (p *plainHTTPCatcher) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "http" {
		return p.next.RoundTrip(r)
	}
	p.asked.Add(1)
	rec := httptest.NewRecorder()
	_, _ = rec.Write(p.body)
	return rec.Result(), nil
}

func TestJWKSRedirectToPlainHTTPRefused(t *testing.T) {
	t.Parallel()
	c := newClock()
	attacker := newES256(t, "k")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://keys.example.com/jwks", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	catcher := &plainHTTPCatcher{next: srv.Client().Transport, body: jwksOf(attacker)}
	client := &http.Client{Transport: catcher} // CheckRedirect nil, as most callers leave it
	tk, err := auth.NewTokens(auth.JWTConfig{
		Issuers:    []auth.Issuer{{Issuer: srv.URL, Audience: testAud, JWKSURL: srv.URL + "/jwks"}},
		HTTPClient: client, Now: c.Now,
	})
	require.NoError(t, err)
	_, err = tk.Verify(context.Background(), attacker.sign(t, claimsAt(c.Now(), srv.URL), nil))
	require.ErrorIs(t, err, auth.ErrUnavailable)
	assert.ErrorContains(t, err, "redirect refused")
	assert.Zero(t, catcher.asked.Load(), "no request went out over plain http")
	assert.Nil(t, client.CheckRedirect, "the caller's client is not modified")
}
