package metering_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/meteringtest"
)

func TestMain(m *testing.M) {
	meteringtest.CrashChild(func(dir string) (metering.Sink, error) {
		return metering.NewStore(metering.StoreConfig{Dir: dir})
	})
	os.Exit(m.Run())
}

// TestCrashRecovery kills a recording process with SIGKILL while it flushes and delivers
// into a local Store, restarts on the same spool, and checks every spooled event is stored
// exactly once.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	dir := filepath.Join(t.TempDir(), "store")
	var store *metering.Store
	meteringtest.RunCrash(t, meteringtest.CrashConfig{
		Target: dir,
		NewSink: func(t *testing.T) metering.Sink {
			var err error
			store, err = metering.NewStore(metering.StoreConfig{Dir: dir})
			require.NoError(t, err)
			t.Cleanup(func() { _ = store.Close() })
			return store
		},
		Read: func(ctx context.Context) ([]metering.Event, error) {
			if store != nil {
				return store.Events(ctx)
			}
			s, err := metering.NewStore(metering.StoreConfig{Dir: dir})
			if err != nil {
				return nil, err
			}
			defer s.Close()
			return s.Events(ctx)
		},
	})
}
