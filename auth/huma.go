package auth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/internal/ctxvalue"
	"github.com/tollgate-dev/tollgate/internal/problem"
)

// Names of the security schemes in the OpenAPI components.
const (
	SchemeAPIKey = "apiKey"
	SchemeBearer = "bearer"
)

// metadataKey holds an operation's [Requirement] in huma.Operation.Metadata.
const metadataKey = "tollgate.auth"

type declaration struct {
	req      Requirement
	required bool // Require was applied, with or without scopes
	conflict bool // both Public and Require were applied
}

// Require is a huma operation modifier: the operation needs a valid credential holding
// every one of scopes (none: any valid credential). It sets the OpenAPI security
// requirement and, through the middleware from [Authenticator.Huma], what is enforced.
// Applied several times (a group's and an operation's), the scopes add up. An operation
// that is also [Public], directly or through its group, is refused at registration: keep
// public operations out of protected groups.
// Scopes are listed in sorted order.
func Require(scopes ...string) func(*huma.Operation) {
	scopes = slices.Clone(scopes)
	return func(op *huma.Operation) {
		d := declarationOf(op)
		if d.req.Public {
			d.conflict = true
		}
		d.required = true
		for _, s := range scopes {
			if !slices.Contains(d.req.Scopes, s) {
				d.req.Scopes = append(d.req.Scopes, s)
			}
		}
		slices.Sort(d.req.Scopes) // a stable order in the OpenAPI and in challenges
		setDeclaration(op, d)
	}
}

// Public is a huma operation modifier that declares an operation open to anonymous callers.
// Declaring it is required: an operation with neither Public nor [Require] is refused when
// registered.
func Public() func(*huma.Operation) {
	return func(op *huma.Operation) {
		d := declarationOf(op)
		if d.required {
			d.conflict = true
		}
		d.req.Public = true
		setDeclaration(op, d)
	}
}

// RequirementOf returns what op declares, and false when it declares nothing.
func RequirementOf(op *huma.Operation) (Requirement, bool) {
	if op == nil {
		return Requirement{}, false
	}
	d, ok := op.Metadata[metadataKey].(*declaration)
	if !ok {
		return Requirement{}, false
	}
	return d.req, true
}

func declarationOf(op *huma.Operation) *declaration {
	if d, ok := op.Metadata[metadataKey].(*declaration); ok {
		c := *d // operations may share a Metadata map through copies: never mutate in place
		c.req.Scopes = slices.Clone(d.req.Scopes)
		return &c
	}
	return &declaration{}
}

func setDeclaration(op *huma.Operation, d *declaration) {
	// Operations copied from a template share its Metadata map; write to a copy.
	m := maps.Clone(op.Metadata)
	if m == nil {
		m = map[string]any{}
	}
	m[metadataKey] = d
	op.Metadata = m
	if d.req.Public {
		op.Security = []map[string][]string{} // explicit "no security", overriding a global one
		return
	}
	scopes := d.req.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	op.Security = []map[string][]string{{SchemeAPIKey: scopes}, {SchemeBearer: scopes}}
}

// Huma returns huma middleware that enforces each operation's declaration, and prepares api:
// it adds the security schemes to the OpenAPI components, and installs a hook that refuses
// (panics, as huma does for other registration mistakes) any operation registered later
// without [Require] or [Public], naming the operation. Call it before registering
// operations, as api.UseMiddleware(authn.Huma(api)) does.
//
// The hook also narrows each operation's security to the schemes this Authenticator accepts
// and documents its 401, 403 and 429 responses. huma's own routes (the OpenAPI document,
// the docs page, schemas) are not operations and are not affected. Hidden operations skip
// the registration hook; the middleware treats an undeclared one as requiring a credential.
func (a *Authenticator) Huma(api huma.API) func(huma.Context, func(huma.Context)) {
	oapi := api.OpenAPI()
	if oapi.Components == nil {
		oapi.Components = &huma.Components{}
	}
	if oapi.Components.SecuritySchemes == nil {
		oapi.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	if a.keys != nil {
		oapi.Components.SecuritySchemes[SchemeAPIKey] = &huma.SecurityScheme{Type: "apiKey", In: "header", Name: a.keyHeader}
	}
	// API keys are also accepted as bearer tokens: without the bearer scheme, a client that
	// sends its key that way would be doing what the document does not allow.
	if a.tokens != nil || a.keys != nil {
		s := &huma.SecurityScheme{Type: "http", Scheme: "bearer"}
		if a.tokens != nil {
			s.BearerFormat = "JWT"
		}
		oapi.Components.SecuritySchemes[SchemeBearer] = s
	}
	a.describeSchemes(oapi, nil)
	for _, item := range oapi.Paths {
		for _, op := range operations(item) {
			a.prepare(oapi, op)
		}
	}
	oapi.OnAddOperation = append(oapi.OnAddOperation, a.prepare)

	return func(ctx huma.Context, next func(huma.Context)) {
		req, _ := RequirementOf(ctx.Operation())
		if req.Public {
			next(ctx)
			return
		}
		p, err := a.check(ctx.Context(), req, ctx.Header, func() string {
			// Every X-Forwarded-For line, not just the first: a proxy may add its own line
			// after one the client wrote, and the resolver must see the proxy's.
			r := &http.Request{RemoteAddr: ctx.RemoteAddr(), Header: http.Header{}}
			ctx.EachHeader(func(name, value string) {
				if strings.EqualFold(name, "X-Forwarded-For") {
					r.Header.Add("X-Forwarded-For", value)
				}
			})
			return a.clients.ClientIP(r).String()
		})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = failure(http.StatusInternalServerError, "", err)
			}
			a.failed(ctx.Context(), err)
			for k, vs := range e.headers() {
				for _, v := range vs {
					ctx.AppendHeader(k, v)
				}
			}
			_ = huma.WriteErr(api, ctx, e.Status, e.detail())
			return
		}
		pc := &principalHumaContext{humaCtx: ctx}
		pc.vctx = ctxvalue.Context[principalKey, *Principal]{Context: ctx.Context(), Val: p}
		next(pc)
	}
}

// humaCtx lets principalHumaContext embed huma.Context without the field's name hiding
// the interface's Context method.
type humaCtx huma.Context

// principalHumaContext is the huma.Context the operation sees: its Context carries the
// principal, as NewContext's does, in one allocation rather than a context.WithValue
// plus a huma.WithContext wrapper.
type principalHumaContext struct {
	humaCtx
	vctx ctxvalue.Context[principalKey, *Principal]
}

// Context returns the request's context with the principal in it.
func (c *principalHumaContext) Context() context.Context { return &c.vctx }

// Unwrap lets adapter helpers such as humago.Unwrap reach the router's context.
func (c *principalHumaContext) Unwrap() huma.Context { return c.humaCtx }

func (a *Authenticator) failed(ctx context.Context, err error) {
	if a.onFailure != nil {
		a.onFailure(ctx, err)
	}
}

// prepare is the OnAddOperation hook.
func (a *Authenticator) prepare(oapi *huma.OpenAPI, op *huma.Operation) {
	d, ok := op.Metadata[metadataKey].(*declaration)
	name := fmt.Sprintf("%s %s", op.Method, op.Path)
	if op.OperationID != "" {
		name += " (" + op.OperationID + ")"
	}
	if !ok {
		panic("auth: operation " + name + " declares no security: add auth.Require(scopes...) or auth.Public() to it or to its group")
	}
	if d.conflict {
		panic("auth: operation " + name + " is declared both auth.Public() and auth.Require(...)")
	}
	if d.req.Public {
		return
	}
	var sec []map[string][]string
	for _, alt := range op.Security {
		for scheme := range alt {
			if _, ok := oapi.Components.SecuritySchemes[scheme]; ok || (scheme != SchemeAPIKey && scheme != SchemeBearer) {
				sec = append(sec, alt)
			}
		}
	}
	if len(sec) > 0 {
		op.Security = sec
	}
	a.describeSchemes(oapi, op)
	a.document(oapi, op, http.StatusBadRequest, "Malformed credentials: an Authorization header that is not a bearer token, or more than one credential.", headerChallenge)
	a.document(oapi, op, http.StatusUnauthorized, "Missing, invalid or expired credentials.", headerChallenge)
	if len(d.req.Scopes) > 0 {
		a.document(oapi, op, http.StatusForbidden, "The credential lacks a required scope.", headerChallenge)
	}
	if a.throttle != nil {
		a.document(oapi, op, http.StatusTooManyRequests, "Too many failed authentication attempts from this client.", headerRetryAfter)
	}
	a.document(oapi, op, http.StatusServiceUnavailable, "Credentials could not be checked (key store or issuer unreachable); the credential may be good, retry later.", "")
}

const (
	headerChallenge  = "WWW-Authenticate"
	headerRetryAfter = "Retry-After"
)

// document adds an error response in the service's error model, as huma does for
// Operation.Errors, or adds header to the response op already documents for status.
func (a *Authenticator) document(oapi *huma.OpenAPI, op *huma.Operation, status int, desc, header string) {
	_, existed := op.Responses[strconv.Itoa(status)]
	resp := problem.ErrorResponse(oapi, op, status, desc)
	if existed && resp.Description == http.StatusText(status) {
		resp.Description = desc
	}
	switch header {
	case headerChallenge:
		problem.Header(resp, header, "string", "The authentication scheme(s) to use (RFC 9110 §11.6.1, RFC 6750 §3).")
	case headerRetryAfter:
		problem.Header(resp, header, "integer", "Seconds to wait before trying again.")
	}
}

// describeSchemes lists, in each security scheme's description, the scopes that the
// operations of oapi (and op, being added) require. Only OAuth 2.0 and OpenID Connect schemes
// can declare scopes; OpenAPI 3.1 lets other schemes require them as role names, and this is
// where generators and readers find which exist. The list is also the scheme's
// "x-tollgate-scopes" extension, for tools.
func (a *Authenticator) describeSchemes(oapi *huma.OpenAPI, op *huma.Operation) {
	var scopes []string
	add := func(op *huma.Operation) {
		if r, ok := RequirementOf(op); ok && !r.Public {
			for _, s := range r.Scopes {
				if !slices.Contains(scopes, s) {
					scopes = append(scopes, s)
				}
			}
		}
	}
	for _, item := range oapi.Paths {
		for _, o := range operations(item) {
			add(o)
		}
	}
	if op != nil {
		add(op)
	}
	slices.Sort(scopes)
	list := ""
	if len(scopes) > 0 {
		list = " Scopes granted to a credential, and required by the operations listed with them: " + strings.Join(scopes, ", ") + "."
	}
	for name, desc := range map[string]string{
		SchemeAPIKey: "API key (" + a.keyFormat() + "), also accepted as a bearer token.",
		SchemeBearer: a.bearerDescription(),
	} {
		s := oapi.Components.SecuritySchemes[name]
		if s == nil {
			continue
		}
		s.Description = desc + list
		if len(scopes) == 0 {
			delete(s.Extensions, "x-tollgate-scopes")
			continue
		}
		if s.Extensions == nil {
			s.Extensions = map[string]any{}
		}
		s.Extensions["x-tollgate-scopes"] = slices.Clone(scopes)
	}
}

func (a *Authenticator) bearerDescription() string {
	switch {
	case a.tokens != nil && a.keys != nil:
		return "OAuth 2.0 access token (JWT) from a trusted issuer, whose scope claim grants the scopes, or an API key (" + a.keyFormat() + ")."
	case a.tokens != nil:
		return "OAuth 2.0 access token (JWT) from a trusted issuer; its scope claim grants the scopes."
	}
	return "An API key (" + a.keyFormat() + ") sent as a bearer token."
}

func (a *Authenticator) keyFormat() string {
	if a.keys == nil {
		return ""
	}
	return a.keys.prefix + "_" + a.keys.env + "_…"
}

func operations(item *huma.PathItem) []*huma.Operation {
	var out []*huma.Operation
	for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
		if op != nil {
			out = append(out, op)
		}
	}
	return out
}
