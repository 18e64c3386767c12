package billing

import (
	"context"
	"encoding/json"
	"time"
)

// Provider is a payment processor: it keeps a customer for each consumer, receives metered
// usage, and collects finalised invoices. billing/stripeprovider implements it on Stripe;
// without one, invoices are collected by hand ([ManualProvider]).
//
// Every method is idempotent on its inputs (a consumer, an event id, an invoice id), so the
// [Biller] retries it after a failure or a restart without charging twice. A nil error means
// the provider has accepted the request durably.
type Provider interface {
	// SyncCustomer creates or updates the provider's customer for c and returns the
	// provider's id for it.
	SyncCustomer(ctx context.Context, c Customer) (string, error)
	// ReportUsage sends usage for the consumer's customer; each record's ID deduplicates it.
	ReportUsage(ctx context.Context, customerID string, records []UsageRecord) error
	// CollectInvoice hands a finalised invoice to the provider to charge, and returns the
	// provider's reference for it.
	CollectInvoice(ctx context.Context, customerID string, inv Invoice) (string, error)
}

// Customer is what a provider is told of a consumer.
type Customer struct {
	Consumer string
	Name     string
	Email    string
	Metadata map[string]string
}

// UsageRecord is one amount of one meter for a provider's usage-based billing.
type UsageRecord struct {
	// ID deduplicates the record at the provider (a metering event id, or a period total's
	// deterministic id).
	ID    string
	Meter string
	Value int64
	Time  time.Time
}

// ManualProvider is the in-process default Provider: it keeps no customers elsewhere and
// leaves finalised invoices to be collected by hand. Its ids are derived from its inputs.
type ManualProvider struct{}

var _ Provider = ManualProvider{}

// SyncCustomer returns the consumer itself as the customer id.
func (ManualProvider) SyncCustomer(_ context.Context, c Customer) (string, error) {
	return c.Consumer, nil
}

// ReportUsage accepts the records; the invoice rated from metering carries the usage.
func (ManualProvider) ReportUsage(context.Context, string, []UsageRecord) error { return nil }

// CollectInvoice returns the invoice's own id as the reference.
func (ManualProvider) CollectInvoice(_ context.Context, _ string, inv Invoice) (string, error) {
	return inv.ID, nil
}

// Event types a [Notifier] is sent.
const (
	EventInvoiceFinalized    = "invoice.finalized"
	EventSubscriptionChanged = "subscription.changed"
	EventEntitlementExceeded = "entitlement.exceeded"
)

// Event is a billing event for the provider's own systems, delivered as a signed webhook by
// billing/webhooks.
type Event struct {
	// ID is unique per event and stable across retries (the webhook-id).
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Time     time.Time       `json:"timestamp"`
	Consumer string          `json:"consumer"`
	Data     json.RawMessage `json:"data"`
}

// Notifier accepts billing events. Notify returns nil only once the event is durable (an
// outbox on disk or in a database); delivery happens afterwards, with retries.
type Notifier interface {
	Notify(ctx context.Context, e Event) error
}
