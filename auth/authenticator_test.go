package auth_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
)

func TestAuthorizeWithoutPrincipal(t *testing.T) {
	t.Parallel()
	authn, err := auth.New(auth.Config{Keys: newKeys(t, newClock(), nil)})
	require.NoError(t, err)
	for _, scopes := range [][]string{nil, {"read"}} {
		err := authn.Authorize(nil, scopes)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, "scopes %v", scopes)
		assert.Equal(t, 401, statusOf(err))
		var e *auth.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, `Bearer realm="api", ApiKey realm="api", header="X-API-Key"`, e.Challenge)
	}
}

// Every 401 names the schemes the server accepts, and only those. Bearer is accepted by
// every configuration: it carries JWTs and API keys alike.
func TestEvery401ChallengesWithAcceptedSchemes(t *testing.T) {
	t.Parallel()
	c := newClock()
	es := newES256(t, "k")
	jwtCfg := &auth.JWTConfig{Issuers: []auth.Issuer{{Issuer: "https://i/", Audience: testAud, JWKS: jwksOf(es)}}}
	keys := newKeys(t, c, nil)
	foreign, err := newKeys(t, c, nil).Create(context.Background(), auth.KeySpec{Consumer: "x"})
	require.NoError(t, err)
	badKey := foreign.Key.Reveal() // well formed, unknown to keys
	badJWT := newES256(t, "k").sign(t, claimsAt(c.Now(), "https://i/"), nil)

	configs := map[string]struct {
		cfg            auth.Config
		bearer, apiKey bool
	}{
		"keys only": {auth.Config{Keys: keys}, true, true},
		"jwt only":  {auth.Config{JWT: jwtCfg, Now: c.Now}, true, false},
		"both":      {auth.Config{Keys: keys, JWT: jwtCfg, Now: c.Now}, true, true},
	}
	requests := map[string][2]string{
		"nothing":          {"", ""},
		"bad key header":   {"X-API-Key", badKey},
		"bad jwt":          {"Authorization", "Bearer " + badJWT},
		"bad key as token": {"Authorization", "Bearer " + badKey},
		"other scheme":     {"Authorization", "Basic dTpw"},
	}
	for cname, cc := range configs {
		authn, err := auth.New(cc.cfg)
		require.NoError(t, err)
		for rname, h := range requests {
			t.Run(cname+"/"+rname, func(t *testing.T) {
				r := httptest.NewRequest("GET", "/", nil)
				if h[0] != "" {
					r.Header.Set(h[0], h[1])
				}
				_, err := authn.Authenticate(r)
				require.ErrorIs(t, err, auth.ErrUnauthenticated)
				var e *auth.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, cc.bearer, strings.Contains(e.Challenge, "Bearer realm="), e.Challenge)
				assert.Equal(t, cc.apiKey, strings.Contains(e.Challenge, "ApiKey realm="), e.Challenge)
			})
		}
	}
}
