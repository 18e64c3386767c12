package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// signer is a private key with its kid and algorithm.
type signer struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

func newES256(t testing.TB, kid string) signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return signer{kid: kid, method: jwt.SigningMethodES256, priv: k}
}

func newEdDSA(t testing.TB, kid string) signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return signer{kid: kid, method: jwt.SigningMethodEdDSA, priv: k}
}

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newRS256(kid string) signer {
	return signer{kid: kid, method: jwt.SigningMethodRS256, priv: rsaKey()}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk is the public JWK of s, with "alg" set.
func (s signer) jwk() map[string]any {
	m := map[string]any{"kid": s.kid, "use": "sig", "alg": s.method.Alg()}
	switch pub := s.priv.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := pub.Bytes()
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64u(b[1:33]), b64u(b[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64u(pub)
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64u(pub.N.Bytes()), b64u([]byte{1, 0, 1})
	}
	return m
}

func jwksOf(signers ...signer) []byte {
	keys := []any{}
	for _, s := range signers {
		keys = append(keys, s.jwk())
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func (s signer) sign(t testing.TB, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	out, err := tok.SignedString(s.priv)
	require.NoError(t, err)
	return out
}

// jwksServer is a real HTTP JWKS endpoint whose keys, headers and health tests change.
type jwksServer struct {
	*httptest.Server
	mu           sync.Mutex
	body         []byte
	cacheControl string
	down         bool
	hits         atomic.Int64
	discovery    atomic.Int64
	issuer       string // served in the discovery document; empty means the server URL
	jwksPath     string // where the key set is served; empty means /jwks
}

func newJWKSServer(t *testing.T, signers ...signer) *jwksServer {
	t.Helper()
	s := &jwksServer{body: jwksOf(signers...), cacheControl: "public, max-age=300"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		path := s.jwksPath
		if path == "" {
			path = "/jwks"
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			s.discovery.Add(1)
			iss := s.issuer
			if iss == "" {
				iss = s.URL
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": s.URL + path})
		case path:
			s.hits.Add(1)
			w.Header().Set("Cache-Control", s.cacheControl)
			_, _ = w.Write(s.body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(signers ...signer) {
	s.mu.Lock()
	s.body = jwksOf(signers...)
	s.mu.Unlock()
}

func (s *jwksServer) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func claimsAt(now time.Time, iss string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": iss, "aud": "https://api.example.com", "sub": "user-1",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "scope": "deliveries:read deliveries:write",
	}
}
