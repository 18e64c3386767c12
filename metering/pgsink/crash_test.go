package pgsink_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/meteringtest"
	"github.com/tollgate-dev/tollgate/metering/pgsink"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

func TestMain(m *testing.M) {
	// The target is "<database URL>\t<table>".
	meteringtest.CrashChild(func(target string) (metering.Sink, error) {
		dsn, table, _ := strings.Cut(target, "\t")
		p, err := pgxpool.New(context.Background(), dsn)
		if err != nil {
			return nil, err
		}
		return pgsink.New(pgsink.Config{Pool: p, Table: table})
	})
	os.Exit(m.Run())
}

// TestCrashRecovery kills a process recording into PostgreSQL with SIGKILL mid-flush and
// checks, after a restart on the same spool, that every spooled event is stored once.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	p := pool(t)
	s := newSink(t, p)
	meteringtest.RunCrash(t, meteringtest.CrashConfig{
		Target:  tollgatetest.PostgresURL(t) + "\t" + s.Table(),
		NewSink: func(*testing.T) metering.Sink { return s },
		Read: func(ctx context.Context) ([]metering.Event, error) {
			return s.Events(ctx, "")
		},
	})
}
