package observe_test

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tollgate-dev/tollgate/observe"
)

// A service instrumented end to end, shut down gracefully on SIGTERM.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	obs, err := observe.New(ctx, observe.Config{Service: "delivery", Version: "1.4.0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	obs.Mount(mux)
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		obs.Logger().InfoContext(r.Context(), "item read", "id", r.PathValue("id"))
	})
	// Serve returns once SIGTERM arrived and everything drained and flushed.
	if err := obs.Serve(ctx, &http.Server{Addr: ":8080", Handler: obs.Handler(mux)}); err != nil {
		fmt.Println(err)
	}
}

func ExampleObserver_Handler() {
	obs, _ := observe.New(context.Background(), observe.Config{LogWriter: io.Discard})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	h := obs.Handler(mux)

	r := httptest.NewRequest(http.MethodGet, "/items/42", nil)
	r.Header.Set("X-Request-ID", "order-7-retry-2")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("X-Request-ID"))
	// Output: 204 order-7-retry-2
}

func ExampleObserver_Huma() {
	obs, _ := observe.New(context.Background(), observe.Config{})
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("Delivery API", "1.0.0"))
	// Observe first, so every later rejection (401, 429, ...) is traced and counted.
	api.UseMiddleware(obs.Huma(api) /*, authn.Huma(api), meter.Huma(api), limits.Huma(api) */)
	huma.Get(api, "/deliveries/{id}", func(ctx context.Context, in *struct {
		ID string `path:"id"`
	}) (*struct{}, error) {
		return nil, huma.Error404NotFound("no delivery " + in.ID)
	}, func(o *huma.Operation) { o.OperationID = "getDelivery" })

	w := httptest.NewRecorder()
	obs.Handler(mux).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/deliveries/d1", nil))
	fmt.Println(w.Code) // the span is named getDelivery, the metrics say operation="getDelivery"
	// Output: 404
}

func ExampleObserver_AddChecker() {
	// The failure reason goes to the log (discarded here), never to the prober.
	obs, _ := observe.New(context.Background(), observe.Config{LogWriter: io.Discard})
	var dbErr error = errors.New("connection refused")
	obs.AddChecker("postgres", observe.CheckerFunc(func(ctx context.Context) error {
		return dbErr // in a service: db.PingContext(ctx)
	}))
	w := httptest.NewRecorder()
	obs.ReadyzHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Print(w.Code, "\n", w.Body)
	// Output:
	// 503
	// [-]postgres failed
	// not ready
}

func ExampleObserver_OnShutdown() {
	obs, _ := observe.New(context.Background(), observe.Config{})
	// A usage meter registers its Close, so buffered events are delivered after the last
	// request finished and before the process exits.
	obs.OnShutdown(func(ctx context.Context) error {
		fmt.Println("flushing usage")
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println(obs.Shutdown(ctx))
	// Output:
	// flushing usage
	// <nil>
}

func ExamplePprofHandler() {
	mux := http.NewServeMux()
	token := []byte(os.Getenv("OPERATOR_TOKEN"))
	requireOperator := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got := []byte(r.Header.Get("X-Operator-Token"))
			if len(token) == 0 || subtle.ConstantTimeCompare(got, token) != 1 {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	mux.Handle("/debug/pprof/", requireOperator(observe.PprofHandler()))
}
