// Package stripeprovider collects Tollgate invoices with Stripe. It implements
// billing.Provider on github.com/stripe/stripe-go, Stripe's own Go library: a Stripe
// customer per consumer, Billing Meter Events for usage, and finalised Tollgate invoices
// turned into finalised Stripe invoices that Stripe charges.
//
// # Quick start
//
//	sc := stripe.NewClient(os.Getenv("STRIPE_SECRET_KEY"))
//	provider, err := stripeprovider.New(stripeprovider.Config{Client: sc})
//	biller, err := billing.New(ctx, billing.Config{Usage: usage, Provider: provider})
//
// # Idempotency
//
// Every write carries an Idempotency-Key derived from its inputs (the consumer, the usage
// record id, the invoice id and line), so the Biller may retry after a failure or a restart
// without creating a second customer, meter event or invoice: Stripe answers a repeated key
// with the first result. Customers are found again by the tollgate_consumer metadata key
// before one is created. Meter events carry the record id as their identifier, which Stripe
// deduplicates on.
//
// Amounts are rated by Tollgate: each invoice line becomes a Stripe invoice item with its
// amount in minor units, so the Stripe invoice totals what the Tollgate invoice says.
// ReportUsage is for services that also want Stripe's own usage views and meters; it is not
// needed for the invoice to be right.
package stripeprovider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v84"

	"github.com/tollgate-dev/tollgate/billing"
)

// Config configures a Provider.
type Config struct {
	// Client is the Stripe client, with the secret key (and, for stripe-mock or a proxy, the
	// backend URL). Required.
	Client *stripe.Client
	// MeterEvents maps a Tollgate meter to the event_name of a Stripe billing meter; a
	// meter not listed uses its own name.
	MeterEvents map[string]string
	// DaysUntilDue, when positive, sends invoices for payment by bank transfer or card
	// within that many days; zero means Stripe charges the customer's default payment
	// method at once.
	DaysUntilDue int64
}

// Provider is a billing.Provider on Stripe.
type Provider struct {
	sc     *stripe.Client
	meters map[string]string
	due    int64
}

var _ billing.Provider = (*Provider)(nil)

// MetadataConsumer is the Stripe customer metadata key that names the Tollgate consumer.
const MetadataConsumer = "tollgate_consumer"

// New returns a Provider.
func New(cfg Config) (*Provider, error) {
	if cfg.Client == nil {
		return nil, errors.New("stripeprovider: Config.Client is required")
	}
	if cfg.DaysUntilDue < 0 {
		return nil, errors.New("stripeprovider: negative DaysUntilDue")
	}
	return &Provider{sc: cfg.Client, meters: cfg.MeterEvents, due: cfg.DaysUntilDue}, nil
}

func key(parts ...string) *string { return stripe.String("tollgate-" + strings.Join(parts, "-")) }

// SyncCustomer implements billing.Provider: it finds the consumer's customer by metadata, or
// creates one, and returns its id.
func (p *Provider) SyncCustomer(ctx context.Context, c billing.Customer) (string, error) {
	if c.Consumer == "" {
		return "", errors.New("stripeprovider: customer without a consumer")
	}
	q := fmt.Sprintf("metadata['%s']:'%s'", MetadataConsumer, strings.ReplaceAll(c.Consumer, "'", `\'`))
	for cust, err := range p.sc.V1Customers.Search(ctx, &stripe.CustomerSearchParams{SearchParams: stripe.SearchParams{Query: q}}) {
		if err != nil {
			return "", fmt.Errorf("stripeprovider: search customer: %w", err)
		}
		if cust.Metadata[MetadataConsumer] == c.Consumer {
			return cust.ID, nil
		}
	}
	meta := map[string]string{MetadataConsumer: c.Consumer}
	for k, v := range c.Metadata {
		meta[k] = v
	}
	params := &stripe.CustomerCreateParams{Metadata: meta}
	if c.Name != "" {
		params.Name = stripe.String(c.Name)
	}
	if c.Email != "" {
		params.Email = stripe.String(c.Email)
	}
	params.IdempotencyKey = key("customer", c.Consumer)
	cust, err := p.sc.V1Customers.Create(ctx, params)
	if err != nil {
		return "", fmt.Errorf("stripeprovider: create customer: %w", err)
	}
	return cust.ID, nil
}

// ReportUsage implements billing.Provider with one Billing Meter Event per record.
func (p *Provider) ReportUsage(ctx context.Context, customerID string, records []billing.UsageRecord) error {
	for _, r := range records {
		if r.ID == "" || r.Meter == "" {
			return errors.New("stripeprovider: a usage record needs an id and a meter")
		}
		name := r.Meter
		if n, ok := p.meters[r.Meter]; ok {
			name = n
		}
		params := &stripe.BillingMeterEventCreateParams{
			EventName:  stripe.String(name),
			Identifier: stripe.String(r.ID),
			Payload:    map[string]string{"stripe_customer_id": customerID, "value": strconv.FormatInt(r.Value, 10)},
		}
		if !r.Time.IsZero() {
			params.Timestamp = stripe.Int64(r.Time.Unix())
		}
		params.IdempotencyKey = key("usage", r.ID)
		if _, err := p.sc.V1BillingMeterEvents.Create(ctx, params); err != nil {
			return fmt.Errorf("stripeprovider: meter event %s: %w", r.ID, err)
		}
	}
	return nil
}

// CollectInvoice implements billing.Provider: a Stripe invoice with one item per line,
// finalised so that Stripe collects it. It returns the Stripe invoice id.
func (p *Provider) CollectInvoice(ctx context.Context, customerID string, inv billing.Invoice) (string, error) {
	if inv.Status != billing.InvoiceFinalized {
		return "", fmt.Errorf("stripeprovider: invoice %s is %s, not finalized", inv.ID, inv.Status)
	}
	cur := strings.ToLower(inv.Currency)
	params := &stripe.InvoiceCreateParams{
		Customer:                    stripe.String(customerID),
		Currency:                    stripe.String(cur),
		AutoAdvance:                 stripe.Bool(true),
		PendingInvoiceItemsBehavior: stripe.String("exclude"),
		Metadata:                    map[string]string{"tollgate_invoice": inv.ID, MetadataConsumer: inv.Consumer},
		CollectionMethod:            stripe.String("charge_automatically"),
	}
	if p.due > 0 {
		params.CollectionMethod = stripe.String("send_invoice")
		params.DaysUntilDue = stripe.Int64(p.due)
	}
	params.IdempotencyKey = key("invoice", inv.ID)
	si, err := p.sc.V1Invoices.Create(ctx, params)
	if err != nil {
		return "", fmt.Errorf("stripeprovider: create invoice %s: %w", inv.ID, err)
	}
	for i, l := range inv.Lines {
		if l.Amount == 0 {
			continue // Stripe shows what is charged; the Tollgate invoice keeps every line
		}
		item := &stripe.InvoiceItemCreateParams{
			Customer:    stripe.String(customerID),
			Invoice:     stripe.String(si.ID),
			Amount:      stripe.Int64(l.Amount),
			Currency:    stripe.String(cur),
			Description: stripe.String(lineDescription(l)),
			Metadata:    map[string]string{"tollgate_invoice": inv.ID, "meter": l.Meter, "quantity": strconv.FormatInt(l.Quantity, 10)},
			Period: &stripe.InvoiceItemCreatePeriodParams{
				Start: stripe.Int64(l.PeriodStart.Unix()), End: stripe.Int64(l.PeriodEnd.Unix()),
			},
		}
		item.IdempotencyKey = key("invoice", inv.ID, "line", strconv.Itoa(i))
		if _, err := p.sc.V1InvoiceItems.Create(ctx, item); err != nil {
			return "", fmt.Errorf("stripeprovider: invoice %s line %d: %w", inv.ID, i, err)
		}
	}
	fin := &stripe.InvoiceFinalizeInvoiceParams{AutoAdvance: stripe.Bool(true)}
	fin.IdempotencyKey = key("finalize", inv.ID)
	if _, err := p.sc.V1Invoices.FinalizeInvoice(ctx, si.ID, fin); err != nil {
		return "", fmt.Errorf("stripeprovider: finalize invoice %s: %w", inv.ID, err)
	}
	return si.ID, nil
}

func lineDescription(l billing.InvoiceLine) string {
	if l.Meter == "" {
		return l.Description
	}
	return fmt.Sprintf("%s: %d", l.Description, l.Quantity)
}
