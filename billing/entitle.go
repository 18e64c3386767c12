package billing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

// ErrNotEntitled reports that the consumer's plan does not grant a feature.
var ErrNotEntitled = errors.New("billing: not entitled")

// EntitlementError says which feature a consumer lacks and which plans grant it. It
// matches [ErrNotEntitled].
type EntitlementError struct {
	Consumer string
	Feature  string
	// Plan is the consumer's plan key; empty when the consumer has no subscription.
	Plan string
	// Plans are the keys of the offered plans that grant Feature, cheapest first.
	Plans []string
}

func (e *EntitlementError) Error() string {
	return fmt.Sprintf("billing: plan %q of consumer %s does not include %q", e.Plan, e.Consumer, e.Feature)
}

// Is makes errors.Is match ErrNotEntitled.
func (e *EntitlementError) Is(target error) bool { return target == ErrNotEntitled }

// entitlement is the cached view of one consumer's plan for the request path.
type entitlement struct {
	plan    *Plan // nil: no subscription and no default plan
	fetched time.Time
}

// Entitle reports whether consumer's plan grants feature: nil, an [*EntitlementError], or
// the store's error. With a warm cache it costs a map lookup and no allocation.
func (b *Biller) Entitle(ctx context.Context, consumer, feature string) error {
	p, err := b.planOf(ctx, consumer)
	if err != nil {
		return err
	}
	if p != nil && slices.Contains(p.Features, feature) {
		return nil
	}
	e := &EntitlementError{Consumer: consumer, Feature: feature, Plans: b.PlansWith(feature)}
	if p != nil {
		e.Plan = p.Key
	}
	return e
}

// planOf returns the plan a consumer is on now, cached for CacheTTL.
func (b *Biller) planOf(ctx context.Context, consumer string) (*Plan, error) {
	now := b.now()
	b.mu.RLock()
	e := b.ents[consumer]
	b.mu.RUnlock()
	if e != nil && now.Sub(e.fetched) < b.ttl {
		return e.plan, nil
	}
	var p *Plan
	s, err := b.Subscription(ctx, consumer)
	switch {
	case err == nil && s.Ended.IsZero():
		p = b.plan(s.Plan, s.PlanVersion)
	case err == nil || errors.Is(err, ErrNotFound):
		if b.defaultPlan != "" {
			p = b.plan(b.defaultPlan, 0)
		}
	default:
		return nil, err
	}
	b.mu.Lock()
	if len(b.ents) >= maxCachedConsumers {
		clear(b.ents) // a crude bound; entries are cheap to refetch
	}
	b.ents[consumer] = &entitlement{plan: p, fetched: now}
	b.mu.Unlock()
	return p, nil
}

const maxCachedConsumers = 100_000

// forget drops a consumer's cached plan after this process changed it.
func (b *Biller) forget(consumer string) {
	b.mu.Lock()
	delete(b.ents, consumer)
	b.mu.Unlock()
}

const metaEntitled = "tollgate.billing.entitled"

// Entitled is an operation modifier: callers must be on a plan granting every feature
// listed. It documents a 402 response and configures [Biller.Huma], which answers 402
// problem+json naming the missing feature and the plans that include it.
func Entitled(features ...string) func(*huma.Operation) {
	return func(op *huma.Operation) {
		if op.Metadata == nil {
			op.Metadata = map[string]any{}
		}
		prev, _ := op.Metadata[metaEntitled].([]string)
		op.Metadata[metaEntitled] = append(slices.Clone(prev), features...)
		if !slices.Contains(op.Errors, http.StatusPaymentRequired) {
			op.Errors = append(op.Errors, http.StatusPaymentRequired)
		}
	}
}

// describe is the OnAddOperation hook: it says in the 402 response which features the
// operation needs (huma documents op.Errors with the status text alone).
func describe(_ *huma.OpenAPI, op *huma.Operation) {
	features, _ := op.Metadata[metaEntitled].([]string)
	if r := op.Responses["402"]; r != nil && len(features) > 0 {
		r.Description = "The caller's plan does not include " + strings.Join(features, ", ") +
			"; the problem's errors name the feature and the plans that include it."
	}
}

// Huma returns the middleware that enforces [Entitled] and puts the consumer's billing
// plan on the request's principal, so rate-limit policies by plan (see [QuotaPolicy]) follow
// the subscription. Install it after auth's middleware and before ratelimit's.
func (b *Biller) Huma(api huma.API) func(huma.Context, func(huma.Context)) {
	oapi := api.OpenAPI()
	for _, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op != nil {
				describe(oapi, op)
			}
		}
	}
	oapi.OnAddOperation = append(oapi.OnAddOperation, describe)
	return func(ctx huma.Context, next func(huma.Context)) {
		p := auth.FromContext(ctx.Context())
		if p == nil || p.Consumer == "" {
			next(ctx)
			return
		}
		var features []string
		if op := ctx.Operation(); op != nil {
			features, _ = op.Metadata[metaEntitled].([]string)
		}
		plan, err := b.planOf(ctx.Context(), p.Consumer)
		if err == nil {
			for _, f := range features {
				if err = b.Entitle(ctx.Context(), p.Consumer, f); err != nil {
					break
				}
			}
		}
		if err != nil {
			_ = huma.WriteErr(api, ctx, problemStatus(err), problemDetail(err), problemErrors(err)...)
			return
		}
		if plan != nil && p.Plan != plan.Key {
			cp := *p
			cp.Plan = plan.Key
			ctx = huma.WithContext(ctx, auth.NewContext(ctx.Context(), &cp))
		}
		next(ctx)
	}
}

// Handler is [Biller.Huma] for net/http: it puts the consumer's billing plan on the
// principal. Routes require features with [Biller.Require].
func (b *Biller) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		if p != nil && p.Consumer != "" {
			plan, err := b.planOf(r.Context(), p.Consumer)
			if err != nil {
				writeProblem(w, r, err)
				return
			}
			if plan != nil && p.Plan != plan.Key {
				cp := *p
				cp.Plan = plan.Key
				r = r.WithContext(auth.NewContext(r.Context(), &cp))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Require wraps a net/http handler so that only consumers entitled to every feature reach it.
func (b *Biller) Require(h http.Handler, features ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		if p == nil {
			writeProblem(w, r, &EntitlementError{Feature: strings.Join(features, ", ")})
			return
		}
		for _, f := range features {
			if err := b.Entitle(r.Context(), p.Consumer, f); err != nil {
				writeProblem(w, r, err)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func problemStatus(err error) int {
	if errors.Is(err, ErrNotEntitled) {
		return http.StatusPaymentRequired
	}
	return http.StatusServiceUnavailable
}

func problemDetail(err error) string {
	var e *EntitlementError
	if errors.As(err, &e) {
		if len(e.Plans) == 0 {
			return fmt.Sprintf("your plan does not include %q, and no plan on offer does", e.Feature)
		}
		return fmt.Sprintf("your plan does not include %q; plans that do: %s", e.Feature, strings.Join(e.Plans, ", "))
	}
	return "billing is temporarily unavailable"
}

// problemErrors names the feature and the plans in the problem's errors, which huma's
// ErrorModel documents, rather than in members the schema does not declare.
func problemErrors(err error) []error {
	var e *EntitlementError
	if !errors.As(err, &e) {
		return nil
	}
	out := []error{&huma.ErrorDetail{Message: "feature not included in the plan", Location: "entitlement", Value: e.Feature}}
	for _, p := range e.Plans {
		out = append(out, &huma.ErrorDetail{Message: "plan including the feature", Location: "plans", Value: p})
	}
	return out
}

func writeProblem(w http.ResponseWriter, _ *http.Request, err error) {
	se := huma.NewError(problemStatus(err), problemDetail(err), problemErrors(err)...)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(se.GetStatus())
	_ = jsonEncode(w, se)
}

// QuotaPolicy is the rate-limit policy that enforces the plans' Limits for meter: a
// calendar-month quota per plan in loc (the billing time zone; nil means the limiter's),
// keyed per consumer, so the limit a plan declares is the limit enforced. Operations that
// spend the meter apply it with ratelimit.Apply; plans without a limit for the meter are not
// limited by it. With anniversary periods the quota still resets on the first of the month.
func QuotaPolicy(name, meter string, loc *time.Location, plans []Plan) ratelimit.Policy {
	pol := ratelimit.Policy{Name: name, Plans: map[string]ratelimit.Rate{}, Key: ratelimit.ByConsumer}
	latest := map[string]Plan{}
	for _, p := range plans {
		if l, ok := latest[p.Key]; !ok || l.Version < p.Version {
			latest[p.Key] = p
		}
	}
	for key, p := range latest {
		if n, ok := p.Limits[meter]; ok {
			r := ratelimit.Monthly(n)
			r.Location = loc
			pol.Plans[key] = r
		} else {
			pol.Plans[key] = ratelimit.Rate{}
		}
	}
	return pol
}
