package billing

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/auth"
)

// PlanList is the plans on offer.
type PlanList struct {
	Plans []PlanSummary `json:"plans"`
}

type plansOutput struct {
	Body PlanList
}

type subscriptionOutput struct {
	Body Subscription
}

type changeInput struct {
	Body PlanChange
}

// InvoiceList is a consumer's invoices, without their lines.
type InvoiceList struct {
	Invoices []Invoice `json:"invoices" doc:"Newest period first; the open periods' drafts included, without their lines"`
}

type invoicesOutput struct {
	Body InvoiceList
}

type invoiceInput struct {
	ID string `path:"id" maxLength:"64" doc:"Invoice id"`
}

type invoiceOutput struct {
	Body Invoice
}

// Register adds the consumer's own billing operations to api (typically a group under
// /v1 that already requires authentication): GET /me/plans, GET and PUT /me/subscription,
// GET /me/invoices and GET /me/invoices/{id}. Each answers for the authenticated consumer
// only; another consumer's invoice id is 404, like one that does not exist. modifiers
// apply to every operation (auth.Require, rate limits).
func Register(api huma.API, acct Account, modifiers ...func(*huma.Operation)) {
	op := func(id, method, path, summary string, errs ...int) huma.Operation {
		o := huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Tags: []string{"Billing"}, Errors: errs}
		for _, m := range modifiers {
			m(&o)
		}
		return o
	}
	huma.Register(api, op("listPlans", http.MethodGet, "/me/plans", "Plans on offer"),
		func(ctx context.Context, _ *struct{}) (*plansOutput, error) {
			plans, err := acct.Plans(ctx)
			if err != nil {
				return nil, problem(err)
			}
			out := &plansOutput{}
			out.Body.Plans = plans
			return out, nil
		})
	huma.Register(api, op("getSubscription", http.MethodGet, "/me/subscription", "The caller's subscription", http.StatusNotFound),
		func(ctx context.Context, _ *struct{}) (*subscriptionOutput, error) {
			consumer, err := caller(ctx)
			if err != nil {
				return nil, err
			}
			s, err := acct.Subscription(ctx, consumer)
			if err != nil {
				return nil, problem(err)
			}
			return &subscriptionOutput{Body: s}, nil
		})
	huma.Register(api, op("changeSubscription", http.MethodPut, "/me/subscription",
		"Subscribe, or change plan now (prorated) or at the period's end", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *changeInput) (*subscriptionOutput, error) {
			consumer, err := caller(ctx)
			if err != nil {
				return nil, err
			}
			s, err := acct.ChangePlan(ctx, consumer, in.Body)
			if err != nil {
				return nil, problem(err)
			}
			return &subscriptionOutput{Body: s}, nil
		})
	huma.Register(api, op("listInvoices", http.MethodGet, "/me/invoices", "The caller's invoices, drafts included"),
		func(ctx context.Context, _ *struct{}) (*invoicesOutput, error) {
			consumer, err := caller(ctx)
			if err != nil {
				return nil, err
			}
			invs, err := acct.Invoices(ctx, consumer)
			if err != nil {
				return nil, problem(err)
			}
			out := &invoicesOutput{}
			out.Body.Invoices = make([]Invoice, len(invs))
			for i, inv := range invs {
				inv.Lines = nil
				out.Body.Invoices[i] = inv
			}
			return out, nil
		})
	huma.Register(api, op("getInvoice", http.MethodGet, "/me/invoices/{id}", "One of the caller's invoices, with its lines", http.StatusNotFound),
		func(ctx context.Context, in *invoiceInput) (*invoiceOutput, error) {
			consumer, err := caller(ctx)
			if err != nil {
				return nil, err
			}
			inv, err := acct.Invoice(ctx, consumer, in.ID)
			if err != nil {
				return nil, problem(err)
			}
			return &invoiceOutput{Body: inv}, nil
		})
}

func caller(ctx context.Context) (string, error) {
	p := auth.FromContext(ctx)
	if p == nil || p.Consumer == "" {
		return "", huma.Error401Unauthorized("authentication required")
	}
	return p.Consumer, nil
}

// problem maps Account errors to RFC 9457 problems.
func problem(err error) error {
	var pc *PlanChangeError
	switch {
	case errors.Is(err, ErrNotFound):
		return huma.Error404NotFound("not found")
	case errors.As(err, &pc):
		return huma.Error409Conflict(pc.Reason)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return huma.Error503ServiceUnavailable("billing did not answer in time")
	}
	return huma.Error503ServiceUnavailable("billing is temporarily unavailable")
}
