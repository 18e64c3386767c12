package auth

import (
	"net/http"
	"testing"
)

func TestDefaultFetchClientChecksRedirects(t *testing.T) {
	t.Parallel()
	tk, err := NewTokens(JWTConfig{Issuers: []Issuer{{Issuer: "https://login.example.com/", Audience: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	client := tk.issuers["https://login.example.com/"].src.client
	if client.CheckRedirect == nil {
		t.Fatal("the default client follows any redirect")
	}
	for target, ok := range map[string]bool{
		"http://keys.example.com/jwks":  false,
		"https://keys.example.com/jwks": true,
		"http://127.0.0.1:8080/jwks":    true,
	} {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		if err := client.CheckRedirect(req, []*http.Request{{}}); (err == nil) != ok {
			t.Errorf("redirect to %s: %v", target, err)
		}
	}
}
