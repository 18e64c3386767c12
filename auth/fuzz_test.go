package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate-dev/tollgate/auth"
)

// RFC 7515 Appendix A: the HS256 (A.1), RS256 (A.2), ES256 (A.3) and unsecured (A.5)
// examples, all with "iss":"joe" and an exp in 2011.
const (
	rfc7515A1 = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfc7515A2 = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
	rfc7515A3 = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
	rfc7515A5 = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
	// rfc7515A2JWKS is the public half of the A.2 RSA key.
	rfc7515A2JWKS = `{"keys":[{"kty":"RSA","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB"}]}`
)

func TestRFC7515Vectors(t *testing.T) {
	t.Parallel()
	before2011 := func() time.Time { return time.Unix(1300819380-60, 0) }
	tk, err := auth.NewTokens(auth.JWTConfig{
		Now:     before2011,
		Issuers: []auth.Issuer{{Issuer: "joe", Audience: "https://api.example.com", JWKS: []byte(rfc7515A2JWKS)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A.2's signature is valid with this key, so only the claims can refuse it: it has no aud.
	_, err = tk.Verify(context.Background(), rfc7515A2)
	if !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "aud") {
		t.Fatalf("A.2 must fail on its missing audience, got %v", err)
	}
	for _, v := range []string{rfc7515A1, rfc7515A3, rfc7515A5} {
		if _, err := tk.Verify(context.Background(), v); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("%.30s…: %v", v, err)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	k, err := auth.NewKeys(auth.KeyConfig{Secret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	issued, err := k.Create(context.Background(), auth.KeySpec{Consumer: "a"})
	if err != nil {
		f.Fatal(err)
	}
	raw := issued.Key.Reveal()
	for _, s := range []string{raw, raw[:len(raw)-1], typo(raw), "tg_live__", "tg_live_" + strings.Repeat("A", 49), "", "_", "a_b_c_d", strings.Repeat("_", 80)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pk, err := auth.ParseKey(s)
		hint := auth.KeyHint(s)
		if len(s) >= 12 && len(hint) > 0 && strings.Contains(hint, s[len(s)/2-4:len(s)/2+4]) && strings.Count(s, "_") >= 3 && err == nil {
			t.Fatalf("hint %q shows the middle of the secret", hint)
		}
		if err != nil {
			return
		}
		if pk.Prefix+"_"+pk.Env+"_"+pk.ID+"_" != s[:len(pk.Prefix)+len(pk.Env)+len(pk.ID)+3] {
			t.Fatalf("parts %q %q %q do not rebuild %q", pk.Prefix, pk.Env, pk.ID, s)
		}
		if len(pk.ID) != 12 || len(s)-len(pk.Prefix)-len(pk.Env)-len(pk.ID)-3 != 36 {
			t.Fatalf("accepted a key of the wrong shape: %q", s)
		}
		if strings.Contains(pk.String(), s[len(s)-30:len(s)-6]) {
			t.Fatalf("String() leaks the secret: %q", pk.String())
		}
	})
}

func FuzzAuthorizationHeader(f *testing.F) {
	ctx := context.Background()
	keys, err := auth.NewKeys(auth.KeyConfig{Secret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	issued, err := keys.Create(ctx, auth.KeySpec{Consumer: "alice"})
	if err != nil {
		f.Fatal(err)
	}
	es := newES256(f, "k")
	now := time.Unix(1900000000, 0)
	authn, err := auth.New(auth.Config{
		Keys: keys, Now: func() time.Time { return now },
		JWT: &auth.JWTConfig{Issuers: []auth.Issuer{{Issuer: "https://i/", Audience: testAud, JWKS: jwksOf(es)}}},
	})
	if err != nil {
		f.Fatal(err)
	}
	tok := es.sign(f, claimsAt(now, "https://i/"), nil)
	for _, seed := range [][2]string{
		{"Bearer " + tok, ""}, {"bearer  " + issued.Key.Reveal(), ""}, {"", issued.Key.Reveal()},
		{"Bearer", ""}, {"Bearer ", ""}, {"Basic dXNlcjpwYXNz", ""}, {"Bearer a b", ""},
		{"Bearer " + rfc7515A5, ""}, {"Bearer " + rfc7515A1, "x"}, {"BEARER\t" + tok, ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, authz, key string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		if key != "" {
			r.Header["X-Api-Key"] = []string{key}
		}
		p, err := authn.Authenticate(r)
		if err == nil {
			if p == nil || p.Consumer == "" {
				t.Fatalf("success without a principal: %+v", p)
			}
			return
		}
		var e *auth.Error
		if !errors.As(err, &e) {
			t.Fatalf("not an *auth.Error: %v", err)
		}
		switch e.Status {
		case 400, 401:
			if e.Challenge == "" {
				t.Fatalf("%d without WWW-Authenticate", e.Status)
			}
		default:
			t.Fatalf("unexpected status %d: %v", e.Status, err)
		}
		if len(key) > 16 && strings.Contains(err.Error(), key[4:len(key)-4]) {
			t.Fatalf("error echoes the presented key: %v", err)
		}
	})
}

func FuzzVerifyToken(f *testing.F) {
	es := newES256(f, "k")
	now := time.Unix(1900000000, 0)
	tk, err := auth.NewTokens(auth.JWTConfig{
		Now: func() time.Time { return now },
		Issuers: []auth.Issuer{
			{Issuer: "https://i/", Audience: testAud, JWKS: jwksOf(es)},
			{Issuer: "joe", Audience: testAud, JWKS: []byte(rfc7515A2JWKS)},
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	valid := es.sign(f, claimsAt(now, "https://i/"), nil)
	for _, s := range []string{
		rfc7515A1, rfc7515A2, rfc7515A3, rfc7515A5, valid,
		es.sign(f, claimsAt(now, "https://i/"), map[string]any{"crit": []string{"b64"}, "b64": false}),
		es.sign(f, jwt.MapClaims{"iss": "https://i/", "aud": []string{testAud}, "sub": "x", "exp": 1e300}, nil),
		"..", "a.b.c", "e30.e30.", strings.Repeat("A", 9000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := tk.Verify(context.Background(), token)
		if err != nil {
			if p != nil {
				t.Fatal("principal with an error")
			}
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		// Only our own signature can produce a principal, and it says who it names.
		if p.Issuer != "https://i/" || p.Consumer != "user-1" || p.Expires.IsZero() {
			t.Fatalf("accepted %q as %+v", token, p)
		}
	})
}
