package metering

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncoderReusesItsBufferUntilReleased: records point into a buffer the next encode
// overwrites, unless release was called in between (what a lane's stash relies on); an
// event that cannot be encoded is reported and left out, the others kept in order.
func TestEncoderReusesItsBufferUntilReleased(t *testing.T) {
	t.Parallel()
	ev := func(op string) Event {
		return Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Source: "s", Type: "t", Operation: op}
	}
	var e encoder
	first := e.encode([]Event{ev("first")}, func(err error) { t.Fatal(err) })
	kept := string(first[0])
	e.encode([]Event{ev("again")}, func(err error) { t.Fatal(err) })
	assert.NotEqual(t, kept, string(first[0]), "without release the next batch reuses the buffer")

	first = e.encode([]Event{ev("first")}, func(err error) { t.Fatal(err) })
	e.release()
	e.encode([]Event{ev("again")}, func(err error) { t.Fatal(err) })
	assert.Equal(t, kept, string(first[0]), "after release the records are left alone")

	var lost []error
	batch := []Event{ev("a"), ev("b"), ev("c")}
	batch[1].Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := e.encode(batch, func(err error) { lost = append(lost, err) })
	require.Len(t, recs, 2)
	assert.Len(t, lost, 1)
	assert.Contains(t, string(recs[0]), `"operation":"a"`)
	assert.Contains(t, string(recs[1]), `"operation":"c"`)
	assert.Equal(t, "c", batch[1].Operation, "the events kept are compacted in place")
}

// TestStoreRefusesABatchItCannotEncode: Write stores nothing of a batch holding an event
// that cannot be encoded, and says so.
func TestStoreRefusesABatchItCannotEncode(t *testing.T) {
	t.Parallel()
	s, err := NewStore(StoreConfig{Dir: t.TempDir()})
	require.NoError(t, err)
	defer s.Close()
	ok := Event{ID: NewID(time.Now()), Time: time.Now(), Source: "s", Type: "t", Consumer: "acme", Units: map[string]int64{"calls": 1}}
	bad := ok
	bad.ID = NewID(time.Now())
	bad.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	err = s.Write(ctx, []Event{ok, bad})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "year"), err.Error())
	stored, err := s.Events(ctx)
	require.NoError(t, err)
	assert.Empty(t, stored, "nothing of the refused batch")
	require.NoError(t, s.Write(ctx, []Event{ok}))
	stored, err = s.Events(ctx)
	require.NoError(t, err)
	require.Len(t, stored, 1, "the good event, written again alone, is stored")
	assert.Equal(t, ok.ID, stored[0].ID)
}
