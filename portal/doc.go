// Package portal gives an API's consumers self-service: their own keys (list, create with
// the secret shown once, rotate with a grace period, revoke), their usage per day for
// charts, and, through billing.Account when billing is on, their plan and invoices; the
// provider gets operations to create consumers, assign plans, revoke every key of a
// consumer and read anyone's usage; and an optional signup creates a consumer with its
// first key. A web page (Page) drives the same JSON API in a browser.
//
// # Quick start
//
//	p, err := portal.New(portal.Config{Keys: authn.Keys(), Usage: usage, Account: biller})
//	me := huma.NewGroup(api, "/v1")
//	p.RegisterKeys(me, auth.Require())   // GET/POST /v1/me/keys, rotate, revoke
//	p.RegisterUsage(me, auth.Require())  // GET /v1/me/usage/days
//	p.RegisterAdmin(me)                  // /v1/admin/..., scope tollgate:admin
//	billing.Register(me, biller, auth.Require())
//	mux.Handle("/portal/", portal.Page("/portal", portal.PageConfig{API: "/v1", Billing: true}))
//
// # Isolation
//
// Every consumer operation acts on the authenticated consumer only. A key id of another
// consumer answers 404, exactly as an unknown one, so ids cannot be probed. Keys a consumer
// creates carry at most the scopes of Config.Scopes (or of the key it signed in with),
// narrowed by its plan's Scopes, and never the admin scope.
//
// # Revocation
//
// A revoked key is refused at once by the process that revoked it (auth.Keys forgets it),
// and by other replicas within auth.KeyConfig.CacheTTL (30 seconds by default), the bound
// their verified-key cache allows.
//
// # Secrets
//
// A created key's secret is in the one response that creates it and nowhere else: not in
// logs, spans or metrics (the request path never reads response bodies), and the page keeps
// the key a consumer signs in with in memory only.
//
// # The page
//
// [Page] serves an html/template and an embedded script and style, with no build step. The
// Content-Security-Policy allows only the page's own script, style and API calls (no inline
// script, no other origin, no framing); every control is a native form element with a
// label, so the page works with the keyboard alone and with screen readers.
package portal
