package otlp_test

import (
	"context"
	"log"
	"net/http"

	"github.com/tollgate-dev/tollgate/observe"
	"github.com/tollgate-dev/tollgate/observe/otlp"
)

// Export to a collector running beside the service, in addition to /metrics.
func Example() {
	ctx := context.Background()
	exp, err := otlp.New(ctx, otlp.Config{Endpoint: "localhost:4317", Insecure: true})
	if err != nil {
		log.Fatal(err)
	}
	cfg := observe.Config{Service: "delivery", Version: "1.4.0"}
	exp.Apply(&cfg)
	obs, err := observe.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	obs.Mount(mux)
	_ = obs.Serve(ctx, &http.Server{Addr: ":8080", Handler: obs.Handler(mux)})
}
