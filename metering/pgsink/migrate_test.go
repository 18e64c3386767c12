package pgsink_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering/pgsink"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// TestConcurrentMigrate starts replicas together: each runs Migrate on a fresh table.
func TestConcurrentMigrate(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(tollgatetest.PostgresURL(t))
	require.NoError(t, err)
	const replicas = 6
	cfg.MaxConns = replicas
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	for range 5 {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		table := "tollgate_test_migrate_" + hex.EncodeToString(b)
		t.Cleanup(func() { _, _ = p.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
		var wg sync.WaitGroup
		errs := make(chan error, replicas)
		for range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := pgsink.New(pgsink.Config{Pool: p, Table: table})
				if err == nil {
					err = s.Migrate(context.Background())
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
}
