package pgstore_test

import (
	"context"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/billing/pgstore"
	"github.com/tollgate-dev/tollgate/metering"
)

// The store uses the pool the service already has; Migrate is safe from every replica.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	store, err := pgstore.New(pgstore.Config{Pool: pool})
	if err != nil {
		panic(err)
	}
	if err := store.Migrate(ctx); err != nil {
		panic(err)
	}
	usage, err := metering.NewStore(metering.StoreConfig{}) // or metering/pgsink on the same pool
	if err != nil {
		panic(err)
	}
	_, _ = billing.New(ctx, billing.Config{Usage: usage, Store: store})
}
