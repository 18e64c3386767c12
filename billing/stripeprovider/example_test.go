package stripeprovider_test

import (
	"context"
	"os"

	"github.com/stripe/stripe-go/v84"

	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/billing/stripeprovider"
	"github.com/tollgate-dev/tollgate/metering"
)

// Finalised invoices are handed to Stripe, which charges the customer's payment method.
func Example() {
	ctx := context.Background()
	provider, err := stripeprovider.New(stripeprovider.Config{Client: stripe.NewClient(os.Getenv("STRIPE_SECRET_KEY"))})
	if err != nil {
		panic(err)
	}
	usage, err := metering.NewStore(metering.StoreConfig{})
	if err != nil {
		panic(err)
	}
	_, _ = billing.New(ctx, billing.Config{Usage: usage, Provider: provider})
}
