package auth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
)

func TestNetHTTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keys := newKeys(t, newClock(), nil)
	reader, err := keys.Create(ctx, auth.KeySpec{Consumer: "alice", Scopes: []string{"read"}})
	require.NoError(t, err)
	authn, err := auth.New(auth.Config{Keys: keys})
	require.NoError(t, err)

	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := auth.FromContext(r.Context()); p != nil {
			_, _ = io.WriteString(w, p.Consumer)
			return
		}
		_, _ = io.WriteString(w, "anonymous")
	})
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", authn.Public(echo))
	mux.Handle("GET /things", authn.Require(echo, "read"))
	mux.Handle("POST /things", authn.Require(echo, "write"))
	mux.Handle("GET /undeclared", echo)
	guarded := authn.Handler(mux)

	// A route wrapped on its own works without the outer middleware too.
	standalone := authn.Require(echo, "read")

	key := reader.Key.Reveal()
	cases := []struct {
		name    string
		h       http.Handler
		method  string
		path    string
		key     string
		status  int
		body    string
		problem bool
	}{
		{"public route", guarded, "GET", "/healthz", "", 200, "anonymous", false},
		{"scoped without key", guarded, "GET", "/things", "", 401, "", true},
		{"scoped with key", guarded, "GET", "/things", key, 200, "alice", false},
		{"missing scope", guarded, "POST", "/things", key, 403, "", true},
		{"undeclared route needs a credential", guarded, "GET", "/undeclared", "", 401, "", true},
		{"undeclared route with key", guarded, "GET", "/undeclared", key, 200, "alice", false},
		{"unknown route still needs a credential", guarded, "GET", "/nope", "", 401, "", true},
		{"standalone without key", standalone, "GET", "/", "", 401, "", true},
		{"standalone with key", standalone, "GET", "/", key, 200, "alice", false},
		{"bad key", guarded, "GET", "/things", typo(key), 401, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.key != "" {
				r.Header.Set("X-API-Key", tc.key)
			}
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, r)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			if tc.problem {
				assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
				if tc.status == 401 {
					assert.NotEmpty(t, w.Header().Get("WWW-Authenticate"))
				}
			} else {
				assert.Equal(t, tc.body, w.Body.String())
			}
		})
	}
}

func TestZeroConfigRefusesEverything(t *testing.T) {
	t.Parallel()
	authn, err := auth.New(auth.Config{})
	require.NoError(t, err)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer whatever")
	_, err = authn.Authenticate(r)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	_, err = authn.Authenticate(httptest.NewRequest("GET", "/", nil))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}
