package metering_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
)

const crashEnv = "TOLLGATE_METERING_CRASH_DIR"

// crashChild records numbered events as fast as it can into a Meter whose sink (a Store) is
// slow, so the spool always holds a backlog, and prints "durable N" each time Flush returns:
// events 0..N-1 are then in the spool. It runs until the parent kills it.
func crashChild(dir string) {
	store, err := metering.NewStore(metering.StoreConfig{Dir: filepath.Join(dir, "store")})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	slow := metering.SinkFunc(func(ctx context.Context, evs []metering.Event) error {
		time.Sleep(5 * time.Millisecond)
		return store.Write(ctx, evs)
	})
	m, err := metering.New(metering.Config{Dir: filepath.Join(dir, "meter"), Sink: slow, BatchSize: 50,
		FlushInterval: 5 * time.Millisecond, SegmentBytes: 64 << 10})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		if err := m.Record(context.Background(), metering.Event{Operation: strconv.Itoa(i), Consumer: "crash",
			Units: map[string]int64{"calls": 1}}); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		if i%100 == 99 {
			if err := m.Flush(context.Background()); err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
			fmt.Fprintf(out, "durable %d\n", i+1)
			_ = out.Flush()
		}
	}
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// TestCrashRecovery kills a recording process with SIGKILL while it flushes and delivers,
// restarts on the same directories, and checks that every event the process had spooled is
// delivered exactly once.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	durable := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		n, ok := strings.CutPrefix(line, "durable ")
		require.True(t, ok, "child: %s", line)
		durable, err = strconv.Atoi(n)
		require.NoError(t, err)
		if durable >= 5000 {
			break
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.GreaterOrEqual(t, durable, 5000)

	store, err := metering.NewStore(metering.StoreConfig{Dir: filepath.Join(dir, "store")})
	require.NoError(t, err)
	defer store.Close()
	before, err := store.Events(context.Background())
	require.NoError(t, err)
	var written atomic.Int64
	counting := metering.SinkFunc(func(ctx context.Context, evs []metering.Event) error {
		written.Add(int64(len(evs)))
		return store.Write(ctx, evs)
	})
	m, err := metering.New(metering.Config{Dir: filepath.Join(dir, "meter"), Sink: counting})
	require.NoError(t, err)
	backlog := m.Pending()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))

	evs, err := store.Events(context.Background())
	require.NoError(t, err)
	seen := map[int]int{}
	for _, e := range evs {
		n, err := strconv.Atoi(e.Operation)
		require.NoError(t, err)
		seen[n]++
	}
	for i := range durable {
		require.Equal(t, 1, seen[i], "event %d: delivered %d times", i, seen[i])
	}
	for n, c := range seen {
		assert.Equal(t, 1, c, "event %d beyond the last Flush delivered %d times", n, c)
	}
	t.Logf("killed after %d durable events; %d stored before restart, %d replayed from the spool (%d redelivered duplicates dropped by the store), %d stored in total",
		durable, len(before), backlog, int(written.Load())-(len(evs)-len(before)), len(evs))
	assert.Positive(t, backlog, "the kill should leave a backlog to replay")
}
