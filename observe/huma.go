package observe

import (
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"
)

// Huma returns huma middleware that names the request's span and metrics after the
// operation ID and answers panics through huma.WriteErr, so the API's own error model
// applies. Register it first, before auth, metering and rate limiting, so every rejection
// is traced and counted:
//
//	api.UseMiddleware(obs.Huma(api), authn.Huma(api), meter.Huma(api), limits.Huma(api))
//
// Inside [Observer.Handler] it only annotates the request Handler already traces. On its
// own (huma served by a router that Handler does not wrap) it does everything Handler does:
// propagation, span, request id, RED metrics.
func (o *Observer) Huma(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		op := o.ops.forHuma(ctx.Operation())
		if st := stateFrom(ctx.Context()); st != nil && st.obs == o {
			st.op = op
			defer func() {
				if v := recover(); v != nil {
					o.humaPanic(api, ctx, st, v, st.wroteHeader)
				}
			}()
			next(ctx)
			return
		}
		o.serveHuma(api, op, ctx, next)
	}
}

func (o *Observer) serveHuma(api huma.API, op *operation, ctx huma.Context, next func(huma.Context)) {
	st := &state{obs: o, op: op, start: o.now()}
	pctx := o.prop.Extract(ctx.Context(), humaCarrier{ctx})
	c, span := o.tracer.Start(pctx, op.spanName(ctx.Method()), o.startOpts...)
	st.Context = c
	st.setID(ctx.Header(RequestIDHeader))
	ctx.SetHeader(RequestIDHeader, st.id)
	hctx := huma.WithContext(ctx, st)
	defer func() {
		if v := recover(); v != nil {
			// Deferred so the request is recorded even when humaPanic aborts.
			defer o.end(st, span, op, humaRequest(ctx), http.StatusInternalServerError)
			o.humaPanic(api, hctx, st, v, false)
			return
		}
		o.end(st, span, op, humaRequest(ctx), ctx.Status())
	}()
	next(hctx)
}

// humaPanic logs and counts a panic and answers 500 through huma.WriteErr; if the response
// has already started it aborts the connection instead.
func (o *Observer) humaPanic(api huma.API, ctx huma.Context, st *state, v any, wrote bool) {
	if v == http.ErrAbortHandler { //nolint:errorlint // a sentinel compared by identity, as net/http does
		panic(v)
	}
	o.recovered(st, st.op, v)
	if wrote || ctx.Status() != 0 {
		panic(http.ErrAbortHandler)
	}
	_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "internal server error")
}

// humaCarrier reads and writes propagation headers through huma.Context.
type humaCarrier struct{ ctx huma.Context }

func (c humaCarrier) Get(key string) string { return c.ctx.Header(key) }
func (c humaCarrier) Set(key, value string) { c.ctx.SetHeader(key, value) }
func (c humaCarrier) Keys() []string {
	var keys []string
	c.ctx.EachHeader(func(name, _ string) { keys = append(keys, name) })
	return keys
}

// humaRequest rebuilds the parts of a request that end reads.
func humaRequest(ctx huma.Context) *http.Request {
	u := ctx.URL()
	r := &http.Request{Method: ctx.Method(), URL: &url.URL{Path: u.Path}, Host: ctx.Host(),
		RemoteAddr: ctx.RemoteAddr(), Header: http.Header{"User-Agent": {ctx.Header("User-Agent")}}}
	r.TLS = ctx.TLS()
	v := ctx.Version()
	r.ProtoMajor, r.ProtoMinor = v.ProtoMajor, v.ProtoMinor
	return r
}
