package portal

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/billing"
)

type consumerInput struct {
	Consumer string `path:"consumer" minLength:"1" maxLength:"128" pattern:"^[A-Za-z0-9._:@-]+$" doc:"Consumer id"`
}

// NewConsumer asks to create a consumer.
type NewConsumer struct {
	Consumer string   `json:"consumer" minLength:"1" maxLength:"128" pattern:"^[A-Za-z0-9._:@-]+$" doc:"New consumer id"`
	Scopes   []string `json:"scopes" minItems:"1" maxItems:"32" doc:"Scopes of the consumer's first key"`
	Plan     string   `json:"plan,omitempty" maxLength:"64" doc:"Plan to start, when billing is enabled"`
}

// CreatedConsumer is a consumer just created, with its first key.
type CreatedConsumer struct {
	Consumer     string                `json:"consumer"`
	Key          IssuedKey             `json:"key" doc:"The consumer's first key, shown once"`
	Subscription *billing.Subscription `json:"subscription,omitempty"`
}

type createConsumerInput struct {
	Body NewConsumer
}

type consumerOutput struct {
	Body CreatedConsumer
}

type assignPlanInput struct {
	Consumer string `path:"consumer" minLength:"1" maxLength:"128" pattern:"^[A-Za-z0-9._:@-]+$" doc:"Consumer id"`
	Body     billing.PlanChange
}

type subscriptionOutput struct {
	Body billing.Subscription
}

// RevokedKeys counts the keys a call revoked.
type RevokedKeys struct {
	Revoked int `json:"revoked" doc:"Keys revoked by this call"`
}

type revokedOutput struct {
	Body RevokedKeys
}

type consumerUsageInput struct {
	Consumer string `path:"consumer" minLength:"1" maxLength:"128" pattern:"^[A-Za-z0-9._:@-]+$" doc:"Consumer id"`
	From     string `query:"from" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"First UTC day (inclusive); default 29 days before to"`
	To       string `query:"to" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"Last UTC day (inclusive); default today"`
	Meter    string `query:"meter" maxLength:"64" doc:"Only this meter"`
}

// RegisterAdmin adds the provider's operations, each requiring the admin scope (besides
// modifiers): create a consumer with its first key, assign a plan, list a consumer's keys,
// revoke all of them, and read any consumer's usage.
func (p *Portal) RegisterAdmin(api huma.API, modifiers ...func(*huma.Operation)) {
	op := operation(append(modifiers, auth.Require(p.adminScope)), "Admin")
	huma.Register(api, withStatus(http.StatusCreated, op("createConsumer", http.MethodPost, "/admin/consumers", "Create a consumer and its first key", http.StatusConflict, http.StatusNotFound)),
		func(ctx context.Context, in *createConsumerInput) (*consumerOutput, error) {
			c := in.Body.Consumer
			existing, err := p.lister.ListKeys(ctx, c)
			if err != nil {
				return nil, unavailable(err)
			}
			if len(existing) > 0 {
				return nil, huma.Error409Conflict("consumer " + c + " exists")
			}
			out := &consumerOutput{}
			out.Body.Consumer = c
			if in.Body.Plan != "" {
				if p.account == nil {
					return nil, huma.Error422UnprocessableEntity("billing is not enabled", &huma.ErrorDetail{Location: "body.plan", Value: in.Body.Plan})
				}
				sub, err := p.account.ChangePlan(ctx, c, billing.PlanChange{Plan: in.Body.Plan})
				if err != nil {
					return nil, billingProblem(err)
				}
				out.Body.Subscription = &sub
			}
			issued, err := p.keys.Create(ctx, auth.KeySpec{Consumer: c, Plan: in.Body.Plan, Scopes: dedupe(in.Body.Scopes)})
			if err != nil {
				return nil, unavailable(err)
			}
			out.Body.Key = IssuedKey{Key: view(issued.Stored, p.now()), Secret: issued.Key.Reveal()}
			return out, nil
		})
	huma.Register(api, op("assignPlan", http.MethodPut, "/admin/consumers/{consumer}/plan", "Move a consumer to a plan", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *assignPlanInput) (*subscriptionOutput, error) {
			if p.account == nil {
				return nil, huma.Error404NotFound("billing is not enabled")
			}
			sub, err := p.account.ChangePlan(ctx, in.Consumer, in.Body)
			if err != nil {
				return nil, billingProblem(err)
			}
			return &subscriptionOutput{Body: sub}, nil
		})
	huma.Register(api, op("listConsumerKeys", http.MethodGet, "/admin/consumers/{consumer}/keys", "List a consumer's keys"),
		func(ctx context.Context, in *consumerInput) (*keysOutput, error) {
			return p.listKeys(ctx, &auth.Principal{Consumer: in.Consumer})
		})
	huma.Register(api, op("revokeConsumerKeys", http.MethodPost, "/admin/consumers/{consumer}/revoke-keys", "Revoke every key of a consumer now"),
		func(ctx context.Context, in *consumerInput) (*revokedOutput, error) {
			stored, err := p.lister.ListKeys(ctx, in.Consumer)
			if err != nil {
				return nil, unavailable(err)
			}
			out := &revokedOutput{}
			now := p.now()
			for _, sk := range stored {
				if !sk.Revoked.IsZero() && !now.Before(sk.Revoked) {
					continue
				}
				if err := p.keys.Revoke(ctx, sk.ID); err != nil {
					return nil, unavailable(err)
				}
				out.Body.Revoked++
			}
			return out, nil
		})
	huma.Register(api, op("getConsumerUsageDays", http.MethodGet, "/admin/consumers/{consumer}/usage/days", "A consumer's usage per day"),
		func(ctx context.Context, in *consumerUsageInput) (*usageOutput, error) {
			return p.days(ctx, in.Consumer, &usageInput{From: in.From, To: in.To, Meter: in.Meter})
		})
}

func billingProblem(err error) error {
	var pc *billing.PlanChangeError
	switch {
	case errors.Is(err, billing.ErrNotFound):
		return huma.Error404NotFound("no such plan")
	case errors.As(err, &pc):
		return huma.Error409Conflict(pc.Reason)
	}
	return unavailable(err)
}
