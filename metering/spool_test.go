package metering

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func recs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "record-%06d", from+i)
	}
	return out
}

func readAll(t *testing.T, s *spool, batch int) []string {
	t.Helper()
	var out []string
	for {
		got, err := s.read(batch)
		require.NoError(t, err)
		if len(got) == 0 {
			return out
		}
		for _, r := range got {
			out = append(out, string(r))
		}
	}
}

func strs(b [][]byte) []string {
	out := make([]string, len(b))
	for i := range b {
		out[i] = string(b[i])
	}
	return out
}

func TestSpoolReplayAfterReopen(t *testing.T) {
	for _, sync := range []SyncPolicy{SyncBatch, SyncNone} {
		t.Run(fmt.Sprint(sync), func(t *testing.T) {
			dir := t.TempDir()
			s, err := openSpool(dir, sync, 200) // tiny segments: many rotations
			require.NoError(t, err)
			require.NoError(t, s.append(recs(0, 10)))
			require.NoError(t, s.append(recs(10, 10)))
			first, err := s.read(7)
			require.NoError(t, err)
			assert.Equal(t, strs(recs(0, 7)), strs(first))
			require.NoError(t, s.ack())
			more, err := s.read(3)
			require.NoError(t, err)
			assert.Len(t, more, 3, "read but not acknowledged: must come back after a restart")
			assert.EqualValues(t, 13, s.pending())
			require.NoError(t, s.close())

			s, err = openSpool(dir, sync, 200)
			require.NoError(t, err)
			defer s.close()
			assert.EqualValues(t, 13, s.pending())
			assert.Equal(t, strs(recs(7, 13)), readAll(t, s, 4))
			require.NoError(t, s.ack())
			assert.EqualValues(t, 0, s.pending())
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			assert.Len(t, segs, 1, "acknowledged segments are deleted, the active one stays")
			require.NoError(t, s.append(recs(20, 2)))
			assert.Equal(t, strs(recs(20, 2)), readAll(t, s, 10), "sequence continues after compaction")
		})
	}
}

func TestSpoolTruncatesTornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, SyncBatch, 0)
	require.NoError(t, err)
	require.NoError(t, s.append(recs(0, 5)))
	require.NoError(t, s.close())
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.Len(t, segs, 1)
	// A crash mid-write leaves part of a frame: a header and half a payload.
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	torn := appendFrame(nil, []byte("record-torn"))
	_, err = f.Write(torn[:len(torn)-4])
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s, err = openSpool(dir, SyncBatch, 0)
	require.NoError(t, err)
	defer s.close()
	require.NoError(t, s.append(recs(5, 1)))
	assert.Equal(t, strs(recs(0, 6)), readAll(t, s, 100))
}

func TestSpoolCorruptRecordStopsSegment(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, SyncNone, 0)
	require.NoError(t, err)
	require.NoError(t, s.append(recs(0, 3)))
	require.NoError(t, s.close())
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	b, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	b[len(b)-1] ^= 0xff // flip a bit in the last payload: the CRC catches it
	require.NoError(t, os.WriteFile(segs[0], b, 0o640))
	s, err = openSpool(dir, SyncNone, 0)
	require.NoError(t, err)
	defer s.close()
	assert.Equal(t, strs(recs(0, 2)), readAll(t, s, 100))
}

func TestSpoolRewind(t *testing.T) {
	s, err := openSpool(t.TempDir(), SyncNone, 64)
	require.NoError(t, err)
	defer s.close()
	require.NoError(t, s.append(recs(0, 6)))
	_, err = s.read(4)
	require.NoError(t, err)
	s.rewind()
	assert.Equal(t, strs(recs(0, 6)), readAll(t, s, 5))
}

func TestSpoolAckAheadOfRecordsIsClamped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := openSpool(dir, SyncBatch, 0)
	require.NoError(t, err)
	require.NoError(t, s.append(recs(0, 3)))
	s.acked = 10 // as if the ack file were written past the records
	require.NoError(t, s.writeAck())
	require.NoError(t, s.close())

	s, err = openSpool(dir, SyncBatch, 0)
	require.NoError(t, err)
	assert.Zero(t, s.pending())
	require.NoError(t, s.append(recs(3, 2)))
	assert.Equal(t, strs(recs(3, 2)), readAll(t, s, 10))
	require.NoError(t, s.close())

	s, err = openSpool(dir, SyncBatch, 0)
	require.NoError(t, err)
	defer s.close()
	assert.Equal(t, strs(recs(3, 2)), readAll(t, s, 10), "the ack file was rewritten")
}

func TestSpoolFsyncFailureDiscardsTheBatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := openSpool(dir, SyncBatch, 0)
	require.NoError(t, err)
	s.fsync = func(*os.File) error { return fmt.Errorf("EIO") }
	require.Error(t, s.append(recs(0, 2)))
	s.fsync = (*os.File).Sync
	require.NoError(t, s.append(recs(2, 1)))
	assert.Equal(t, strs(recs(2, 1)), readAll(t, s, 10))
	require.NoError(t, s.close())

	s, err = openSpool(dir, SyncBatch, 0)
	require.NoError(t, err)
	defer s.close()
	assert.Equal(t, strs(recs(2, 1)), readAll(t, s, 10), "after reopen")
}

// TestSpoolAckInPlace: the ack is overwritten in place, so what a process wrote before it
// died (without close) is what the next open reads; an ack damaged on disk redelivers
// everything still spooled rather than skipping a record.
func TestSpoolAckInPlace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
		want   []string
	}{
		{"written, not closed", func(*testing.T, string) {}, strs(recs(4, 2))},
		{"torn", func(t *testing.T, path string) {
			require.NoError(t, os.Truncate(path, 7))
		}, strs(recs(0, 6))},
		{"flipped bit", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[3] ^= 0x10
			require.NoError(t, os.WriteFile(path, b, 0o640))
		}, strs(recs(0, 6))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := openSpool(dir, SyncBatch, 0)
			require.NoError(t, err)
			require.NoError(t, s.append(recs(0, 6)))
			for _, n := range []int{1, 3} { // two acks: the second overwrites the first
				got, err := s.read(n)
				require.NoError(t, err)
				require.Len(t, got, n)
				require.NoError(t, s.ack())
			}
			// Abandon s as a killed process would: its descriptors stay open, nothing
			// more is written, and the directory lock is released by hand.
			require.NoError(t, s.lock.Close())
			s.lock = nil
			t.Cleanup(func() { _ = s.close() }) // only closes its descriptors, writes nothing
			tc.damage(t, filepath.Join(dir, ackFile))

			s2, err := openSpool(dir, SyncBatch, 0)
			require.NoError(t, err)
			defer s2.close()
			assert.Equal(t, tc.want, readAll(t, s2, 10))
		})
	}
}
