// Package problem writes RFC 9457 problem details from the net/http adapters.
//
// The huma adapters write errors with huma.WriteErr so the service's own error model applies;
// the net/http adapters have no API to ask, so they build the error through huma.NewError (the
// same hook a service overrides to change its error model) and encode it here.
package problem

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// Write sends err as the response, the way huma.WriteErr would: the status and body come from
// the huma.StatusError in err's chain (a 500 when there is none), headers from a
// huma.HeadersError (huma.ErrorWithHeaders), and the content type is whatever the error asks
// for (application/problem+json for huma's ErrorModel).
func Write(w http.ResponseWriter, r *http.Request, err error) {
	var se huma.StatusError
	if !errors.As(err, &se) {
		se = huma.NewError(http.StatusInternalServerError, "internal error")
	}
	ct := "application/problem+json"
	if f, ok := se.(huma.ContentTypeFilter); ok {
		ct = f.ContentType(ct)
	}
	var h huma.HeadersError
	if errors.As(err, &h) {
		for k, vs := range h.GetHeaders() {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(se.GetStatus())
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(se)
}

// New builds the error through huma.NewError and writes it.
func New(w http.ResponseWriter, r *http.Request, status int, detail string, errs ...error) {
	Write(w, r, huma.NewError(status, detail, errs...))
}
