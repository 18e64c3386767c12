package meteringtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
)

const (
	crashDirEnv    = "TOLLGATE_METERINGTEST_CRASH_DIR"
	crashTargetEnv = "TOLLGATE_METERINGTEST_CRASH_TARGET"
	crashConsumer  = "meteringtest-crash"
)

// CrashChild is the child side of RunCrash. Call it first thing in TestMain: in the child
// process it records events until it is killed and never returns; in any other process it
// returns at once. newSink builds the sink from the target string the parent passed (a
// table name, a subject), the same way the parent's CrashConfig.NewSink does.
//
// The child records numbered events as fast as it can into a Meter whose sink is slowed
// down, so the spool always holds a backlog when the kill comes, and prints "durable N"
// each time Meter.Flush returns: events 0..N-1 are then in the spool.
func CrashChild(newSink func(target string) (metering.Sink, error)) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return
	}
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(2)
	}
	sink, err := newSink(os.Getenv(crashTargetEnv))
	if err != nil {
		fail(err)
	}
	slow := metering.SinkFunc(func(ctx context.Context, evs []metering.Event) error {
		time.Sleep(5 * time.Millisecond)
		return sink.Write(ctx, evs)
	})
	m, err := metering.New(metering.Config{Dir: dir, Sink: slow, BatchSize: 50,
		FlushInterval: 5 * time.Millisecond, SegmentBytes: 64 << 10})
	if err != nil {
		fail(err)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		if err := m.Record(context.Background(), metering.Event{Operation: strconv.Itoa(i),
			Consumer: crashConsumer, Units: map[string]int64{"calls": 1}}); err != nil {
			fail(err)
		}
		if i%100 == 99 {
			if err := m.Flush(context.Background()); err != nil {
				fail(err)
			}
			fmt.Fprintf(out, "durable %d\n", i+1)
			_ = out.Flush()
		}
	}
}

// CrashConfig describes the sink under a crash test.
type CrashConfig struct {
	// Target is passed to the child's newSink (see CrashChild): the name of the table,
	// stream or directory both processes write to.
	Target string
	// NewSink builds the parent's sink on Target after the child is dead.
	NewSink func(t *testing.T) metering.Sink
	// Read returns every event stored in Target.
	Read func(ctx context.Context) ([]metering.Event, error)
	// Durable is how many events the child must have spooled before it is killed; zero
	// means 3000.
	Durable int
}

// RunCrash starts the test binary as a child (see CrashChild) that records events into
// the sink, kills it with SIGKILL in the middle of flushing and delivering, starts a Meter
// on the same spool, lets it drain, and checks that every event the child had spooled was
// stored exactly once, and nothing was stored twice.
func RunCrash(t *testing.T, cfg CrashConfig) {
	t.Helper()
	if cfg.Durable == 0 {
		cfg.Durable = 3000
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+filepath.Join(dir, "spool"), crashTargetEnv+"="+cfg.Target)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	durable := 0
	sc := bufio.NewScanner(stdout)
	for durable < cfg.Durable && sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "durable ")
		require.True(t, ok, "child: %s", sc.Text())
		durable, err = strconv.Atoi(n)
		require.NoError(t, err)
	}
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no deferred cleanup, no final flush
	_ = cmd.Wait()
	require.GreaterOrEqual(t, durable, cfg.Durable, "the child stopped early")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before, err := cfg.Read(ctx)
	require.NoError(t, err)
	m, err := metering.New(metering.Config{Dir: filepath.Join(dir, "spool"), Sink: cfg.NewSink(t)})
	require.NoError(t, err)
	backlog := m.Pending()
	require.NoError(t, m.Close(ctx))

	evs, err := cfg.Read(ctx)
	require.NoError(t, err)
	seen := map[int]int{}
	for _, e := range evs {
		if e.Consumer != crashConsumer {
			continue
		}
		n, err := strconv.Atoi(e.Operation)
		require.NoError(t, err)
		seen[n]++
	}
	for i := range durable {
		require.Equal(t, 1, seen[i], "event %d was stored %d times", i, seen[i])
	}
	for n, c := range seen {
		require.Equal(t, 1, c, "event %d (after the last Flush) was stored %d times", n, c)
	}
	t.Logf("killed after %d spooled events: %d stored before the restart, %d replayed from the spool, %d stored in the end, each once",
		durable, len(before), backlog, len(seen))
	require.Positive(t, backlog, "the kill left nothing to replay; the test proved nothing")
}
