package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tollgate-dev/tollgate/auth"
)

func ExampleNewKeys() {
	ctx := context.Background()
	keys, err := auth.NewKeys(auth.KeyConfig{
		Store:  auth.NewMemoryKeyStore(),
		Secret: auth.Secret("a-32-byte-server-secret-from-your-vault"),
	})
	if err != nil {
		panic(err)
	}
	issued, err := keys.Create(ctx, auth.KeySpec{Consumer: "acme", Scopes: []string{"orders:read"}})
	if err != nil {
		panic(err)
	}
	// Printing the Secret redacts it; Reveal is for the one place that shows it.
	fmt.Println(issued.Key)
	p, err := keys.Verify(ctx, issued.Key.Reveal())
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Consumer, p.Scopes, p.Kind)
	// Output:
	// [REDACTED]
	// acme [orders:read] api_key
}

func ExampleAuthenticator_Handler() {
	keys, _ := auth.NewKeys(auth.KeyConfig{Secret: auth.Secret("a-32-byte-server-secret-from-your-vault")})
	authn, err := auth.New(auth.Config{Keys: keys})
	if err != nil {
		panic(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello", auth.FromContext(r.Context()).Consumer)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", authn.Public(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})))
	mux.Handle("GET /orders", authn.Require(hello, "orders:read"))

	w := httptest.NewRecorder()
	authn.Handler(mux).ServeHTTP(w, httptest.NewRequest("GET", "/orders", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output: 401 Bearer realm="api", ApiKey realm="api", header="X-API-Key"
}

func ExampleOpenFileKeyStore() {
	dir, _ := os.MkdirTemp("", "keys")
	defer os.RemoveAll(dir)
	store, err := auth.OpenFileKeyStore(dir + "/keys.jsonl")
	if err != nil {
		panic(err)
	}
	defer store.Close()
	keys, _ := auth.NewKeys(auth.KeyConfig{Store: store, Secret: auth.Secret("a-32-byte-server-secret-from-your-vault")})
	issued, _ := keys.Create(context.Background(), auth.KeySpec{Consumer: "acme"})
	stored, _ := store.Key(context.Background(), issued.ID)
	fmt.Println(stored.Consumer, len(stored.Digest))
	// Output: acme 32
}

func ExampleTokens() {
	tokens, err := auth.NewTokens(auth.JWTConfig{Issuers: []auth.Issuer{{
		Issuer:   "https://login.example.com/",
		Audience: "https://api.example.com",
		// JWKSURL empty: keys are found by OpenID Connect discovery on first use.
	}}})
	if err != nil {
		panic(err)
	}
	_, err = tokens.Verify(context.Background(), "not-a-token")
	fmt.Println(err != nil)
	// Output: true
}

func ExampleAuthenticator_Huma() {
	keys, _ := auth.NewKeys(auth.KeyConfig{Secret: auth.Secret("a-32-byte-server-secret-from-your-vault")})
	issued, _ := keys.Create(context.Background(), auth.KeySpec{Consumer: "acme", Scopes: []string{"orders:read"}})
	authn, err := auth.New(auth.Config{Keys: keys})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("Orders", "1.0.0"))
	api.UseMiddleware(authn.Huma(api))

	type out struct{ Body string }
	huma.Get(api, "/health", func(ctx context.Context, _ *struct{}) (*out, error) {
		return &out{Body: "ok"}, nil
	}, auth.Public())
	huma.Get(api, "/orders", func(ctx context.Context, _ *struct{}) (*out, error) {
		return &out{Body: "orders of " + auth.FromContext(ctx).Consumer}, nil
	}, auth.Require("orders:read"))

	for _, key := range []string{"", issued.Key.Reveal()} {
		r := httptest.NewRequest("GET", "/orders", nil)
		if key != "" {
			r.Header.Set("X-API-Key", key)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("Content-Type"))
	}
	fmt.Println(api.OpenAPI().Paths["/orders"].Get.Security)
	// Output:
	// 401 application/problem+json
	// 200 application/json
	// [map[apiKey:[orders:read]] map[bearer:[orders:read]]]
}

// Every issuer names the audience its tokens must carry. An identity provider signs tokens
// for many APIs with the same keys; without an audience check, a token a user obtained for
// some other API (or that another API received and replays) would be accepted here. The
// issuer is matched exactly, trailing slash included, as OpenID Connect requires.
func ExampleIssuer() {
	_, err := auth.NewTokens(auth.JWTConfig{Issuers: []auth.Issuer{{
		Issuer: "https://login.example.com/",
		// Audience left out on purpose.
	}}})
	fmt.Println(err)
	// Output: auth: every Issuer needs Issuer and Audience
}
