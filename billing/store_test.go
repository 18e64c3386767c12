package billing_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/billing/billingtest"
)

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	billingtest.RunStore(t, func(*testing.T) billing.Store { return billing.NewMemoryStore() }, nil)
}

func TestFileStore(t *testing.T) {
	t.Parallel()
	paths := map[billing.Store]string{}
	open := func(t *testing.T, path string) billing.Store {
		s, err := billing.OpenFileStore(path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		paths[s] = path
		return s
	}
	billingtest.RunStore(t,
		func(t *testing.T) billing.Store { return open(t, filepath.Join(t.TempDir(), "billing.jsonl")) },
		func(t *testing.T, s billing.Store) billing.Store {
			require.NoError(t, s.(*billing.FileStore).Close())
			return open(t, paths[s])
		})
}

func TestFileStoreTornRecordAndLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "billing.jsonl")
	s, err := billing.OpenFileStore(path)
	require.NoError(t, err)
	_, err = billing.OpenFileStore(path)
	assert.ErrorContains(t, err, "another process", "one process per journal")
	require.NoError(t, s.PutPlan(t.Context(), billing.Plan{Key: "free", Version: 1, Name: "Free", Currency: "GBP"}))
	require.NoError(t, s.Close())

	// A crash mid-append leaves a torn last line: dropped, since it was never acknowledged.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"plan":{"key":"starter","vers`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	s, err = billing.OpenFileStore(path)
	require.NoError(t, err)
	plans, err := s.Plans(t.Context())
	require.NoError(t, err)
	assert.Len(t, plans, 1)
	require.NoError(t, s.PutPlan(t.Context(), billing.Plan{Key: "starter", Version: 1, Name: "Starter", Currency: "GBP"}))
	require.NoError(t, s.Close())

	// Corruption before the last record is refused rather than silently skipped.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append([]byte("garbage\n"), data...), 0o600))
	_, err = billing.OpenFileStore(path)
	assert.ErrorContains(t, err, "corrupt")
}
