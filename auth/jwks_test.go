package auth

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestParseJWKSSkipsUnsafeKeys(t *testing.T) {
	t.Parallel()
	set := `{"keys":[
		{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
		{"kty":"EC","kid":"enc","use":"enc","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
		{"kty":"EC","kid":"ok","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
		{"kty":"EC","kid":"offcurve","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"},
		{"kty":"EC","kid":"wrongalg","alg":"ES384","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
		{"kty":"RSA","kid":"weak","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy","e":"AQAB"},
		{"kty":"RSA","kid":"strong","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"},
		{"kty":"EC","kid":"dup","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
		{"kty":"EC","kid":"dup","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
		{"kty":"OKP","kid":"ed","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
		"not an object"
	]}`
	keys, err := parseJWKS([]byte(set), nil)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for kid := range keys {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	if !slices.Equal(kids, []string{"ed", "ok", "strong"}) {
		t.Fatalf("kept %v, want [ed ok strong]", kids)
	}
	if !slices.Equal(keys["ok"].algs, []string{"ES256"}) || !slices.Equal(keys["ed"].algs, []string{"EdDSA"}) ||
		!slices.Equal(keys["strong"].algs, []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}) {
		t.Fatalf("pinning: %v %v %v", keys["ok"].algs, keys["ed"].algs, keys["strong"].algs)
	}
	// An allow-list without EdDSA drops the Ed25519 key.
	keys, err = parseJWKS([]byte(set), []string{"ES256"})
	if err != nil || keys["ed"] != nil || keys["ok"] == nil {
		t.Fatalf("allow-list not applied: %v %v", keys, err)
	}
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	for cc, want := range map[string]time.Duration{
		"":                        defaultJWKSTTL,
		"max-age=600":             10 * time.Minute,
		"public, max-age=5":       minJWKSTTL,
		"max-age=99999999999":     maxJWKSTTL,
		"no-store":                minJWKSTTL,
		"no-cache, max-age=3600":  minJWKSTTL,
		`max-age="120"`:           2 * time.Minute,
		"max-age=-1":              defaultJWKSTTL,
		"max-age=abc, s-maxage=9": defaultJWKSTTL,
	} {
		h := http.Header{}
		if cc != "" {
			h.Set("Cache-Control", cc)
		}
		if got := cacheTTL(h); got != want {
			t.Errorf("%q: %v, want %v", cc, got, want)
		}
	}
}

func FuzzJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"ok","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseJWKS(data, nil)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatal("accepted invalid JSON")
		}
		for kid, k := range keys {
			if len(kid) > maxKidLen || k.key == nil || len(k.algs) == 0 {
				t.Fatalf("bad key %q: %+v", kid, k)
			}
			for _, a := range k.algs {
				if !slices.Contains(asymmetricAlgs, a) {
					t.Fatalf("key %q pinned to %q", kid, a)
				}
			}
		}
	})
}
