package openapitest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/tollgate-dev/tollgate/openapitest"
)

// printer stands in for the *testing.T of a test, printing what would fail it.
type printer struct{ testing.TB }

func (printer) Helper()                           {}
func (printer) Errorf(format string, args ...any) { fmt.Printf(format+"\n", args...) }
func (printer) Fatalf(format string, args ...any) { fmt.Printf(format+"\n", args...) }
func (printer) Log(...any)                        {}
func (printer) Logf(string, ...any)               {}

type greeting struct {
	Body struct {
		Message string `json:"message"`
	}
}

// A handler answering what its operation does not document fails the test: here a status
// the operation never declared. In a test, pass t instead of the printer.
func ExampleNew() {
	var t testing.TB = printer{}
	_, api := humatest.New(t, huma.DefaultConfig("Greetings", "1.0.0"))
	huma.Register(api, huma.Operation{OperationID: "greet", Method: http.MethodGet, Path: "/greet/{name}",
		Errors: []int{http.StatusNotFound}}, func(_ context.Context, in *struct {
		Name string `path:"name"`
	}) (*greeting, error) {
		if in.Name == "teapot" {
			return nil, huma.NewError(http.StatusTeapot, "short and stout")
		}
		out := &greeting{}
		out.Body.Message = "Hello, " + in.Name
		return out, nil
	})

	h := openapitest.New(t, api)
	for _, path := range []string{"/greet/world", "/greet/teapot"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, rec.Code)
	}
	// Output:
	// /greet/world 200
	// openapitest: GET /greet/teapot 418: GET operation request response code '418' does not exist: The response code '418' of the GET request submitted has not been defined, it's an unknown type
	// /greet/teapot 418
}

// Wrap checks every call of a humatest.TestAPI.
func ExampleWrap() {
	var t testing.TB = printer{}
	_, api := humatest.New(t, huma.DefaultConfig("Greetings", "1.0.0"))
	huma.Get(api, "/greet", func(context.Context, *struct{}) (*greeting, error) {
		out := &greeting{}
		out.Body.Message = "Hello"
		return out, nil
	})
	checked := openapitest.Wrap(t, api)
	fmt.Println(checked.Get("/greet").Code)
	// Output:
	// 200
}

// Handler checks any http.Handler against a document in hand. The drift names the JSON
// pointer of the mismatch.
func ExampleHandler() {
	var t testing.TB = printer{}
	doc := []byte(`
openapi: 3.1.0
info: {title: Greetings, version: "1.0"}
paths:
  /greet:
    get:
      responses:
        "200":
          description: A greeting.
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                properties:
                  message: {type: string}
`)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /greet", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"message":"Hello","mood":"sunny"}`)
	})
	h := openapitest.Handler(t, mux, doc)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/greet", nil))
	// Output:
	// openapitest: GET /greet 200: /: 200 response body for '/greet' failed to validate schema: additional properties 'mood' not allowed
}

// Transport checks what a client receives from a service it reaches over a connection,
// here a huma API served on loopback.
func ExampleTransport() {
	var t testing.TB = printer{}
	router, api := humatest.New(t, huma.DefaultConfig("Greetings", "1.0.0"))
	huma.Get(api, "/greet", func(context.Context, *struct{}) (*greeting, error) {
		out := &greeting{}
		out.Body.Message = "Hello"
		return out, nil
	})
	srv := httptest.NewServer(router)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatalf("%v", err)
	}
	doc, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	client := &http.Client{Transport: openapitest.Transport(t, nil, doc)}
	resp, err = client.Get(srv.URL + "/greet")
	if err != nil {
		t.Fatalf("%v", err)
	}
	_ = resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 200
}
