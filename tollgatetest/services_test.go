package tollgatetest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder captures what need does instead of ending the test.
type recorder struct{ skipped, failed string }

func (r *recorder) Helper()                           {}
func (r *recorder) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestNeed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	// A port that was just free: nothing listens there.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := dead.Addr().String()
	require.NoError(t, dead.Close())

	tests := []struct {
		name        string
		require     string
		addr        string
		wantSkip    bool
		wantFailure bool
	}{
		{"reachable", "", ln.Addr().String(), false, false},
		{"absent skips", "", deadAddr, true, false},
		{"absent fails when required", "1", deadAddr, false, true},
		{"zero means not required", "0", deadAddr, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TOLLGATE_REQUIRE_SERVICES", tt.require)
			var r recorder
			need(&r, "Thing", tt.addr, "THING_ADDR")
			assert.Equal(t, tt.wantSkip, r.skipped != "", r.skipped)
			assert.Equal(t, tt.wantFailure, r.failed != "", r.failed)
			if tt.wantSkip {
				assert.Contains(t, r.skipped, "THING_ADDR", "the skip says how to point the test elsewhere")
			}
		})
	}
}

func TestHostOf(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "db:5432", hostOf("postgres://u@db/test", "127.0.0.1:5432"))
	assert.Equal(t, "db:6000", hostOf("postgres://u@db:6000/test", "127.0.0.1:5432"))
	assert.Equal(t, "127.0.0.1:4222", hostOf("::not a url", "127.0.0.1:4222"))
}

func TestClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(start)
	assert.Equal(t, start, c.Now())
	c.Advance(90 * time.Second)
	assert.Equal(t, start.Add(90*time.Second), c.Now())
}
