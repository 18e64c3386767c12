package tollgate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/observe"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

type order struct {
	Body struct {
		ID string `json:"id"`
	}
}

// An API with keys, a per-caller limit and usage metering, traced and measured: the four
// middlewares in their order, and the policy declared on the operation.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "tollgate-example")
	defer os.RemoveAll(dir)

	obs, _ := observe.New(ctx, observe.Config{Service: "orders"})
	defer obs.Shutdown(ctx)
	keys, _ := auth.NewKeys(auth.KeyConfig{
		Store:  auth.NewMemoryKeyStore(),
		Secret: auth.Secret("a server secret of at least 32 bytes"),
	})
	issued, _ := keys.Create(ctx, auth.KeySpec{Consumer: "acme", Plan: "pro", Scopes: []string{"orders:read"}})
	authn, _ := auth.New(auth.Config{Keys: keys})
	limits, _ := ratelimit.New(ratelimit.Config{})
	meter, _ := metering.New(metering.Config{Dir: dir})
	obs.OnShutdown(meter.Close)

	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("Orders", "1.0.0"))
	api.UseMiddleware(obs.Huma(api), authn.Huma(api), meter.Huma(api), limits.Huma(api))
	huma.Get(api, "/orders/{id}", func(ctx context.Context, in *struct {
		ID string `path:"id"`
	}) (*order, error) {
		out := &order{}
		out.Body.ID = in.ID
		return out, nil
	}, auth.Require("orders:read"), ratelimit.Limit(ratelimit.PerMinute(2)), metering.Units("orders", 1))
	h := obs.Handler(mux)

	call := func(key string) {
		r := httptest.NewRequest(http.MethodGet, "/orders/42", nil)
		if key != "" {
			r.Header.Set("X-API-Key", key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("Content-Type"))
	}
	call("")                  // no credential
	call(issued.Key.Reveal()) // within the limit
	call(issued.Key.Reveal())
	call(issued.Key.Reveal()) // over it
	// Output:
	// 401 application/problem+json
	// 200 application/json
	// 200 application/json
	// 429 application/problem+json
}
