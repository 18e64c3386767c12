package openapitest_test

import (
	"context"
	"fmt"
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
