package problem

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// ErrorResponse returns an error response of status for op, in the service's error model
// (as huma documents Operation.Errors), adding it when op does not document status yet.
// An existing response is returned as it is. The content type and schema come from
// huma.NewError, the hook a service overrides to change its error model.
func ErrorResponse(oapi *huma.OpenAPI, op *huma.Operation, status int, desc string) *huma.Response {
	code := strconv.Itoa(status)
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	if r := op.Responses[code]; r != nil {
		return r
	}
	if desc == "" {
		desc = http.StatusText(status)
	}
	ct, schema := ErrorSchema(oapi)
	r := &huma.Response{Description: desc, Content: map[string]*huma.MediaType{ct: {Schema: schema}}}
	op.Responses[code] = r
	return r
}

// ErrorSchema returns the content type and schema reference of the service's error model.
func ErrorSchema(oapi *huma.OpenAPI) (string, *huma.Schema) {
	example := huma.NewError(0, "")
	ct := "application/json"
	if f, ok := example.(huma.ContentTypeFilter); ok {
		ct = f.ContentType(ct)
	}
	t := reflect.TypeOf(example)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return ct, oapi.Components.Schemas.Schema(t, true, "Error")
}

// Header documents a response header, unless resp already does.
func Header(resp *huma.Response, name, typ, desc string) {
	if resp.Headers == nil {
		resp.Headers = map[string]*huma.Param{}
	}
	if resp.Headers[name] == nil {
		resp.Headers[name] = &huma.Param{Description: desc, Schema: &huma.Schema{Type: typ}}
	}
}
