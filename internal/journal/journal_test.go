package journal_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/internal/journal"
)

type rec struct{ N int }

func replay(t *testing.T, path string) ([]int, error) {
	t.Helper()
	var got []int
	j, err := journal.Open(path, func(line []byte) error {
		var r rec
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		got = append(got, r.N)
		return nil
	})
	if err == nil {
		require.NoError(t, j.Close())
	}
	return got, err
}

func TestJournal(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := journal.Open(path, func([]byte) error { return nil })
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, j.Append(rec{i}))
	}
	require.NoError(t, j.Close())
	assert.Error(t, j.Append(rec{9}), "closed")

	got, err := replay(t, path)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2}, got)

	// A torn last record is dropped, and the next append follows the good ones.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"N":`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	j, err = journal.Open(path, func([]byte) error { return nil })
	require.NoError(t, err)
	require.NoError(t, j.Append(rec{3}))
	require.NoError(t, j.Rewrite([]any{rec{7}, rec{8}}))
	require.NoError(t, j.Append(rec{9}))
	require.NoError(t, j.Close())
	got, err = replay(t, path)
	require.NoError(t, err)
	assert.Equal(t, []int{7, 8, 9}, got, "rewritten, then appended")

	// Corruption before the last record fails the open rather than losing records.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append([]byte("garbage\n"), data...), 0o600))
	_, err = replay(t, path)
	assert.ErrorContains(t, err, "corrupt")
}
