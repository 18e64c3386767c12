package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/internal/clientip"
	"github.com/tollgate-dev/tollgate/internal/problem"
)

// Huma returns huma middleware that applies the configured policies and those the operation
// declares with [Limit], [Quota], [Apply] and [Cost]. It sets the RateLimit headers on every
// limited response; a refusal is a 429 problem (or Config.QuotaStatus for quotas) with
// Retry-After, and a store that cannot decide and fails closed yields a 503 with Retry-After.
//
// Call it before registering operations: it also documents the headers of every limited
// operation in api's OpenAPI document.
func (l *Limiter) Huma(api huma.API) func(huma.Context, func(huma.Context)) {
	oapi := api.OpenAPI()
	oapi.OnAddOperation = append(oapi.OnAddOperation, func(oapi *huma.OpenAPI, op *huma.Operation) {
		// A policy mistake is a programming error found at start-up, the way huma reports
		// its own registration mistakes; it must never become a 500 on a caller's request.
		o := policyOf(op)
		if err := errors.Join(o.err, uniqueNames(l.policies, o.policies)); err != nil {
			panic(fmt.Sprintf("ratelimit: operation %s %s (%s): %v", op.Method, op.Path, op.OperationID, err))
		}
		if len(l.policies) > 0 || len(o.policies) > 0 {
			document(op)
			l.document(oapi, op, o)
		}
	})
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		o := policyOf(op)
		if o.err != nil {
			_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "invalid rate limit policy")
			return
		}
		if len(l.policies) == 0 && len(o.policies) == 0 {
			next(ctx)
			return
		}
		req := Request{Method: ctx.Method(), Path: ctx.URL().Path, header: ctx}
		if op != nil {
			req.Operation = op.OperationID
		}
		if len(l.ip.TrustedProxies) == 0 {
			req.ClientIP = clientip.Peer(ctx.RemoteAddr())
		} else {
			req.ClientIP = l.ip.ClientIP(l.peerRequest(ctx))
		}
		f, err := l.decide(ctx.Context(), &req, o, func(status int, msg string, errs ...error) huma.StatusError {
			return huma.NewErrorWithContext(ctx, status, msg, errs...)
		})
		if err != nil {
			var he huma.HeadersError
			if errors.As(err, &he) {
				for k, vs := range he.GetHeaders() {
					for _, v := range vs {
						ctx.AppendHeader(k, v)
					}
				}
			}
			writeHuma(api, ctx, err)
			return
		}
		for _, kv := range f.kv[:f.n] {
			ctx.AppendHeader(kv[0], kv[1])
		}
		next(ctx)
	}
}

// peerRequest rebuilds the part of the request the client address resolver reads, copying
// forwarding headers only when some proxy is trusted.
func (l *Limiter) peerRequest(ctx huma.Context) *http.Request {
	r := &http.Request{RemoteAddr: ctx.RemoteAddr()}
	if len(l.ip.TrustedProxies) > 0 {
		name := l.ip.Header
		if name == "" {
			name = "X-Forwarded-For"
		}
		r.Header = http.Header{}
		ctx.EachHeader(func(k, v string) {
			if strings.EqualFold(k, name) {
				r.Header.Add(name, v)
			}
		})
	}
	return r
}

// Handler returns net/http middleware that applies the configured policies to every request
// (the route pattern, when a ServeMux has set it, names the operation). See [Limiter.Route]
// for policies of one route.
func (l *Limiter) Handler(next http.Handler) http.Handler {
	return l.handler(next, "", &operationPolicy{cost: 1})
}

// Route returns net/http middleware for one route: the configured policies plus policies,
// counted per caller for the operation named op unless they have a Key of their own. It is
// the net/http counterpart of the [Apply] operation modifier. Like [http.ServeMux.Handle]
// with a malformed pattern, it panics on invalid policies: routes are built at start-up, and
// a mistake there must stop the service rather than fail its callers' requests.
func (l *Limiter) Route(op string, policies ...Policy) func(http.Handler) http.Handler {
	ps, err := compile(policies)
	if err == nil {
		err = uniqueNames(l.policies, ps)
	}
	if err != nil {
		panic(fmt.Sprintf("ratelimit: route %q: %v", op, err))
	}
	for i := range ps {
		ps[i].perOp = policies[i].Key == nil
	}
	o := &operationPolicy{policies: ps, cost: 1}
	return func(next http.Handler) http.Handler { return l.handler(next, op, o) }
}

func (l *Limiter) handler(next http.Handler, op string, o *operationPolicy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.err != nil {
			problem.New(w, r, http.StatusInternalServerError, "invalid rate limit policy")
			return
		}
		name := op
		if name == "" {
			name = r.Pattern
		}
		req := Request{Operation: name, Method: r.Method, Path: r.URL.Path, ClientIP: l.ip.ClientIP(r), header: stdHeader(r.Header)}
		f, err := l.decide(r.Context(), &req, o, huma.NewError)
		if err != nil {
			problem.Write(w, r, err) // the error carries its headers
			return
		}
		h := w.Header()
		for _, kv := range f.kv[:f.n] {
			h[kv[0]] = []string{kv[1]}
		}
		next.ServeHTTP(w, r)
	})
}

// decide runs the policies for one request. It returns the header fields to send with an
// allowed request, or the error to send instead, which carries its own headers (the
// decision's fields, Retry-After).
func (l *Limiter) decide(ctx context.Context, req *Request, o *operationPolicy, newErr newErrorFunc) (headerFields, error) {
	cost := o.cost
	if n, ok := CostFromContext(ctx); ok {
		cost = n
	}
	if cost < 0 {
		return headerFields{}, newErr(http.StatusInternalServerError, "invalid request cost")
	}
	d, err := l.check(ctx, req, cost, o.policies)
	if err != nil {
		if errors.Is(err, errInvalidRate) {
			return headerFields{}, newErr(http.StatusInternalServerError, "invalid rate limit policy")
		}
		if ce := (*CostError)(nil); errors.As(err, &ce) {
			return headerFields{}, newErr(http.StatusBadRequest, ce.Error())
		}
		return headerFields{}, l.unavailable(err, http.Header{}, newErr)
	}
	f := d.fields(l.now(), l.legacy)
	if !d.Allowed {
		h := make(http.Header, f.n)
		for _, kv := range f.kv[:f.n] {
			h[kv[0]] = []string{kv[1]}
		}
		return headerFields{}, l.refusal(d, h, newErr)
	}
	return f, nil
}

// writeHuma writes err the way huma.WriteErr writes its own errors (content negotiation,
// the API's transformers and marshalers), but with the body built by the limiter so that
// problem extensions survive.
func writeHuma(api huma.API, ctx huma.Context, err error) {
	var se huma.StatusError
	if !errors.As(err, &se) {
		_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "internal error")
		return
	}
	ct, nerr := api.Negotiate(ctx.Header("Accept"))
	if nerr != nil {
		ct = "application/json"
	}
	if f, ok := se.(huma.ContentTypeFilter); ok {
		ct = f.ContentType(ct)
	}
	ctx.SetHeader("Content-Type", ct)
	status := se.GetStatus()
	body, terr := api.Transform(ctx, strconv.Itoa(status), se)
	if terr != nil {
		body = se
	}
	ctx.SetStatus(status)
	_ = api.Marshal(ctx.BodyWriter(), ct, body)
}
