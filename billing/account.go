package billing

import (
	"context"
	"errors"
	"time"
)

// Account is a consumer's commercial relationship as the consumer sees it: the plans on
// offer, the subscription, and the invoices. It is the contract between a billing system and
// the consumer-facing API under /v1/me: the billing package registers its operations
// (GET and PUT /me/subscription, GET /me/invoices and /me/invoices/{id}) on any Account, the
// portal page renders them, and the portal's provider operations assign plans through it. Every method is scoped to one consumer, so an implementation never
// returns another consumer's data; a subscription or invoice that does not exist for that
// consumer is [ErrNotFound], whether or not it exists for someone else.
type Account interface {
	// Plans lists the plans a consumer may subscribe to, newest published version of each.
	Plans(ctx context.Context) ([]PlanSummary, error)
	// Subscription returns the consumer's current subscription, or ErrNotFound.
	Subscription(ctx context.Context, consumer string) (Subscription, error)
	// ChangePlan moves the consumer to another plan, starting a subscription when there is
	// none. Errors: ErrNotFound for an unknown plan, a *PlanChangeError when the change is
	// refused (same plan, plan not offered).
	ChangePlan(ctx context.Context, consumer string, change PlanChange) (Subscription, error)
	// Invoices lists the consumer's invoices, newest first, the current period's draft
	// included.
	Invoices(ctx context.Context, consumer string) ([]Invoice, error)
	// Invoice returns one of the consumer's invoices with its lines, or ErrNotFound.
	Invoice(ctx context.Context, consumer, id string) (Invoice, error)
}

// ErrNotFound reports that a plan, subscription or invoice does not exist for the caller.
var ErrNotFound = errors.New("billing: not found")

// PlanChangeError reports a plan change that was refused, with a reason fit for the caller.
type PlanChangeError struct{ Reason string }

func (e *PlanChangeError) Error() string { return "billing: plan change refused: " + e.Reason }

// Money is an amount in the minor unit of its ISO 4217 currency (cents for USD, pence for
// GBP, yen for JPY). Amounts are never floating point.
type Money struct {
	Amount   int64  `json:"amount" doc:"Amount in the currency's minor unit (cents, pence)"`
	Currency string `json:"currency" doc:"ISO 4217 currency code" example:"GBP"`
}

// PlanSummary is what a consumer is shown of a plan.
type PlanSummary struct {
	Key         string   `json:"key" doc:"Stable plan key" example:"starter"`
	Version     int      `json:"version" doc:"Published version of the plan"`
	Name        string   `json:"name" example:"Starter"`
	Description string   `json:"description,omitempty"`
	Fee         Money    `json:"fee" doc:"Recurring fee per billing period"`
	Features    []string `json:"features,omitempty" doc:"Boolean entitlements the plan grants"`
	// Limits are the metered entitlements per billing period, by meter.
	Limits map[string]int64 `json:"limits,omitempty" doc:"Units included per period, by meter"`
	// Scopes are the API scopes a key of a consumer on this plan may carry; empty means no
	// restriction beyond the caller's own.
	Scopes []string `json:"scopes,omitempty" doc:"Scopes keys on this plan may be granted"`
}

// Subscription states.
const (
	StatusTrialing = "trialing"
	StatusActive   = "active"
	StatusCanceled = "canceled"
)

// Subscription is a consumer's subscription to one version of a plan.
type Subscription struct {
	ID          string    `json:"id"`
	Consumer    string    `json:"consumer"`
	Plan        string    `json:"plan" doc:"Plan key"`
	PlanVersion int       `json:"plan_version"`
	Status      string    `json:"status" enum:"trialing,active,canceled"`
	Started     time.Time `json:"started"`
	TrialEnd    time.Time `json:"trial_end,omitzero"`
	PeriodStart time.Time `json:"period_start" doc:"Start of the current billing period"`
	PeriodEnd   time.Time `json:"period_end" doc:"End (exclusive) of the current billing period"`
	// CancelAt is when a cancellation at period end takes effect; zero means none is pending.
	CancelAt time.Time `json:"cancel_at,omitzero"`
	// PendingPlan is the plan key a change at period end moves to; empty means none.
	PendingPlan string `json:"pending_plan,omitempty"`
	// Since is when the subscription moved to its current plan.
	Since time.Time `json:"since"`
	// Ended is when a canceled subscription stopped; zero while it runs.
	Ended time.Time `json:"ended,omitzero"`
	// LimitsReached lists the meters whose plan limit the current period's usage has
	// reached, each announced once as entitlement.exceeded.
	LimitsReached []string `json:"limits_reached,omitempty" doc:"Meters whose plan limit this period's usage has reached"`
	// InvoicedThrough is the end of the last period whose invoice is finalised.
	InvoicedThrough time.Time `json:"invoiced_through,omitzero"`
	// Phases are the earlier plans of the periods not yet invoiced, oldest first.
	Phases []Phase `json:"phases,omitempty"`
}

// Phase is a span of time a subscription spent on one plan version.
type Phase struct {
	Plan        string    `json:"plan"`
	PlanVersion int       `json:"plan_version"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
}

// PlanChange asks to move a subscription to another plan.
type PlanChange struct {
	Plan string `json:"plan" doc:"Key of the plan to move to" example:"growth"`
	// AtPeriodEnd defers the change to the end of the current period; otherwise it takes
	// effect now and the current period is prorated.
	AtPeriodEnd bool `json:"at_period_end,omitempty"`
}

// Invoice states.
const (
	InvoiceDraft     = "draft"
	InvoiceFinalized = "finalized"
	InvoicePaid      = "paid"
	InvoiceVoid      = "void"
)

// Invoice is the bill for one consumer and one billing period. A draft changes as usage
// arrives; a finalised invoice never changes.
type Invoice struct {
	ID          string        `json:"id"`
	Consumer    string        `json:"consumer"`
	Status      string        `json:"status" enum:"draft,finalized,paid,void"`
	PeriodStart time.Time     `json:"period_start"`
	PeriodEnd   time.Time     `json:"period_end"`
	Currency    string        `json:"currency" example:"GBP"`
	Subtotal    int64         `json:"subtotal" doc:"Sum of the lines, in minor units"`
	Total       int64         `json:"total" doc:"Amount due, in minor units"`
	Lines       []InvoiceLine `json:"lines,omitempty"`
	Finalized   time.Time     `json:"finalized,omitzero"`
}

// InvoiceLine is one charge on an invoice: a plan fee, a proration, or a meter's usage.
type InvoiceLine struct {
	Description string `json:"description" example:"Deliveries created"`
	// Meter is the meter the line rates; empty for a fee or proration.
	Meter    string `json:"meter,omitempty"`
	Plan     string `json:"plan,omitempty" doc:"Plan key the line was rated under"`
	Quantity int64  `json:"quantity"`
	// UnitPrice is the price of one unit in minor units, as a decimal string, since tiered
	// and package prices can be fractional per unit (e.g. "0.5"); empty for mixed tiers.
	UnitPrice   string       `json:"unit_price,omitempty" example:"2.5"`
	Amount      int64        `json:"amount" doc:"Line amount, in minor units"`
	PeriodStart time.Time    `json:"period_start"`
	PeriodEnd   time.Time    `json:"period_end"`
	Tiers       []TierAmount `json:"tiers,omitempty" doc:"How a tiered price split the quantity"`
	// TraceIDs name a few of the calls rated on this line, to follow one to its trace.
	TraceIDs []string `json:"trace_ids,omitempty"`
}

// TierAmount is the part of a line's quantity that fell into one price tier.
type TierAmount struct {
	// UpTo is the tier's inclusive upper bound; 0 means unbounded.
	UpTo     int64  `json:"up_to"`
	Quantity int64  `json:"quantity"`
	Unit     string `json:"unit_price" doc:"Price of one unit in the tier, minor units, decimal"`
	Flat     int64  `json:"flat,omitempty" doc:"Flat amount of the tier, minor units"`
	Amount   int64  `json:"amount"`
}
