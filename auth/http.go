package auth

import (
	"net/http"
	"slices"

	"github.com/tollgate-dev/tollgate/internal/problem"
)

// routeHandler is a handler wrapped with its declared requirement.
type routeHandler struct {
	a    *Authenticator
	req  Requirement
	next http.Handler
}

// Require wraps one net/http handler: requests need a valid credential holding every one of
// scopes. It works alone or under [Authenticator.Handler], which it trusts to have
// authenticated the request already.
//
//	mux.Handle("POST /v1/deliveries", authn.Require(create, "deliveries:write"))
func (a *Authenticator) Require(h http.Handler, scopes ...string) http.Handler {
	return &routeHandler{a: a, req: Requirement{Scopes: slices.Clone(scopes)}, next: h}
}

// Public wraps a net/http handler that anonymous callers may reach, such as a health
// check, so that [Authenticator.Handler] lets requests through to it.
func (a *Authenticator) Public(h http.Handler) http.Handler {
	return &routeHandler{a: a, req: Requirement{Public: true}, next: h}
}

func (h *routeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.req.Public {
		h.next.ServeHTTP(w, r)
		return
	}
	p := FromContext(r.Context())
	if p == nil {
		var err error
		if p, err = h.a.Authenticate(r); err != nil {
			h.a.refuse(w, r, err)
			return
		}
		r = r.WithContext(NewContext(r.Context(), p))
	}
	if err := h.a.Authorize(p, h.req.Scopes); err != nil {
		h.a.refuse(w, r, err)
		return
	}
	h.next.ServeHTTP(w, r)
}

// Handler is net/http middleware for services without huma. Deny by default: every
// request needs a valid credential, and its principal is put in the request context,
// unless the route's handler was wrapped with [Authenticator.Public]. Scopes are declared per
// route by wrapping handlers with [Authenticator.Require].
//
// To see a route's wrapper before serving, Handler asks next for the handler of the request
// when next is an *http.ServeMux (mux.Handler); for any other handler it cannot see inside,
// so every request needs a credential and public routes belong outside it.
func (a *Authenticator) Handler(next http.Handler) http.Handler {
	mux, _ := next.(*http.ServeMux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := Requirement{}
		if mux != nil {
			if h, _ := mux.Handler(r); h != nil {
				if rh, ok := h.(*routeHandler); ok {
					req = rh.req
				}
			}
		}
		if req.Public {
			next.ServeHTTP(w, r)
			return
		}
		p, err := a.Authenticate(r)
		if err == nil {
			err = a.Authorize(p, req.Scopes)
		}
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
	})
}

func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, err error) {
	a.failed(r.Context(), err)
	problem.Write(w, r, Problem(err))
}
