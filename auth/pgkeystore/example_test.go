package pgkeystore_test

import (
	"context"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/auth/pgkeystore"
)

// The store uses the pool the service already has; Migrate is safe from every replica.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	store, err := pgkeystore.New(pgkeystore.Config{Pool: pool})
	if err != nil {
		panic(err)
	}
	if err := store.Migrate(ctx); err != nil {
		panic(err)
	}
	keys, err := auth.NewKeys(auth.KeyConfig{Store: store, Secret: auth.Secret(os.Getenv("TOLLGATE_KEY_SECRET"))})
	if err != nil {
		panic(err)
	}
	_, _ = keys.Create(ctx, auth.KeySpec{Consumer: "acme", Scopes: []string{"orders:read"}})
}
