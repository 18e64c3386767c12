package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate-dev/tollgate/auth"
)

func benchKeys(b *testing.B, ttl time.Duration) (*auth.Keys, string) {
	b.Helper()
	k, err := auth.NewKeys(auth.KeyConfig{Secret: testSecret, CacheTTL: ttl})
	if err != nil {
		b.Fatal(err)
	}
	issued, err := k.Create(context.Background(), auth.KeySpec{Consumer: "alice", Scopes: []string{"read"}})
	if err != nil {
		b.Fatal(err)
	}
	return k, issued.Key.Reveal()
}

// BenchmarkVerifyKey compares a warm cache with a store lookup and HMAC on every call.
func BenchmarkVerifyKey(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"warm", time.Hour}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			k, raw := benchKeys(b, bc.ttl)
			if _, err := k.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyJWT compares the signature check (cold: cache disabled) with a repeat
// presentation of a verified token (warm), for ES256, EdDSA and RS256 with a 2048-bit key.
func BenchmarkVerifyJWT(b *testing.B) {
	ctx := context.Background()
	now := time.Unix(1900000000, 0)
	for _, s := range []signer{newES256(b, "es"), newEdDSA(b, "ed"), newRS256("rs")} {
		for _, cache := range []struct {
			name string
			size int
		}{{"cold", -1}, {"warm", 0}} {
			b.Run(s.method.Alg()+"/"+cache.name, func(b *testing.B) {
				tk, err := auth.NewTokens(auth.JWTConfig{
					Now: func() time.Time { return now }, CacheSize: cache.size,
					Issuers: []auth.Issuer{{Issuer: "https://i/", Audience: testAud, JWKS: jwksOf(s)}},
				})
				if err != nil {
					b.Fatal(err)
				}
				tok := s.sign(b, claimsAt(now, "https://i/"), nil)
				if _, err := tk.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := tk.Verify(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkJWTBaseline is golang-jwt on its own with the key in hand and the same claim
// checks: the floor that BenchmarkVerifyJWT/*/cold adds key lookup and policy to.
func BenchmarkJWTBaseline(b *testing.B) {
	now := time.Unix(1900000000, 0)
	for _, s := range []signer{newES256(b, "es"), newEdDSA(b, "ed"), newRS256("rs")} {
		b.Run(s.method.Alg(), func(b *testing.B) {
			tok := s.sign(b, claimsAt(now, "https://i/"), nil)
			p := jwt.NewParser(jwt.WithValidMethods([]string{s.method.Alg()}), jwt.WithIssuer("https://i/"),
				jwt.WithAudience(testAud), jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
			key := s.priv.Public()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(tok, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseKey(b *testing.B) {
	_, raw := benchKeys(b, -1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.ParseKey(raw); err != nil {
			b.Fatal(err)
		}
	}
}
