package main

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/portal"
)

// Self-service in the example: consumers manage their own keys (with the delivery scopes
// only) and see their usage per day under /v1/me; providers, with a key carrying
// tollgate:admin, create consumers and assign plans under /v1/admin; the developer portal
// page at /portal drives the same API in a browser.

// registerPortal mounts the consumer and provider operations on v1 and the page on mux.
func registerPortal(mux *http.ServeMux, v1 *huma.Group, authn *auth.Authenticator, usage metering.UsageReader, biller *billing.Biller) error {
	p, err := portal.New(portal.Config{
		Keys: authn.Keys(), Usage: usage, Account: biller, Scopes: []string{scopeRead, scopeWrite},
	})
	if err != nil {
		return err
	}
	p.RegisterKeys(v1, auth.Require())
	p.RegisterUsage(v1, auth.Require())
	p.RegisterAdmin(v1)
	page := portal.Page("/portal", portal.PageConfig{Title: "Delivery API developer portal", API: "/v1", Billing: true})
	mux.Handle("/portal", page)
	mux.Handle("/portal/", page)
	return nil
}
