package metering_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/metering"
)

// A Meter with a spool directory keeps every event across restarts and, with no sink
// configured, answers usage queries from its local store.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "metering")
	defer os.RemoveAll(dir)
	meter, err := metering.New(metering.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	ctx := auth.NewContext(context.Background(), &auth.Principal{Consumer: "acme", Plan: "pro"})
	for range 3 {
		_ = meter.Record(ctx, metering.Event{Operation: "createDelivery", Units: map[string]int64{"deliveries": 1}})
	}
	if err := meter.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	rows, _ := meter.Usage().Usage(context.Background(), metering.UsageQuery{
		Consumer: "acme", Window: metering.Month, From: time.Now()})
	fmt.Println(metering.Total(rows))
	// Output: map[deliveries:3]
}

// The huma middleware meters every operation; Units declares and documents an operation's
// billable units, and handlers add more through the accumulator.
func ExampleMeter_Huma() {
	meter, _ := metering.New(metering.Config{})
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("Delivery API", "1.0.0"))
	api.UseMiddleware(meter.Huma(api))
	op := huma.Operation{OperationID: "createDelivery", Method: http.MethodPost, Path: "/deliveries"}
	metering.Units("deliveries", 1)(&op)
	huma.Register(api, op, func(ctx context.Context, _ *struct{}) (*struct{}, error) {
		metering.FromContext(ctx).Add("sms", 1) // the recipient was texted
		return nil, nil
	})
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/deliveries", nil))
	_ = meter.Close(context.Background())
	fmt.Println(api.OpenAPI().Paths["/deliveries"].Post.Extensions[metering.ExtensionKey])
	// Output: map[deliveries:1]
}

// Handler meters any net/http handler; the operation is the ServeMux pattern.
func ExampleMeter_Handler() {
	meter, _ := metering.New(metering.Config{Sink: &metering.LogSink{}})
	defer meter.Close(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sms", func(w http.ResponseWriter, r *http.Request) {
		metering.FromContext(r.Context()).Add("sms", 1)
	})
	_ = http.ListenAndServe(":8080", meter.Handler(mux))
}

// Fan-out: each sink gets its own spool and delivery goroutine, so a slow receiver never
// holds back the others.
func ExampleConfig_sinks() {
	ingest, err := metering.NewHTTPSink(metering.HTTPSinkConfig{
		URL:    "https://openmeter.cloud/api/v1/events",
		Header: http.Header{"Authorization": {"Bearer " + os.Getenv("OPENMETER_TOKEN")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	local, _ := metering.NewStore(metering.StoreConfig{Dir: "/var/lib/delivery/usage"})
	meter, err := metering.New(metering.Config{
		Dir:   "/var/lib/delivery/metering",
		Sinks: map[string]metering.Sink{"openmeter": ingest, "local": local},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer meter.Close(context.Background())
}
