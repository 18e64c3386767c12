package natssink_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/meteringtest"
	"github.com/tollgate-dev/tollgate/metering/natssink"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

func TestMain(m *testing.M) {
	// The target is "<NATS URL>\t<subject>".
	meteringtest.CrashChild(func(target string) (metering.Sink, error) {
		url, subject, _ := strings.Cut(target, "\t")
		nc, err := nats.Connect(url)
		if err != nil {
			return nil, err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, err
		}
		return natssink.New(natssink.Config{JetStream: js, Subject: subject})
	})
	os.Exit(m.Run())
}

// TestCrashRecovery kills a process publishing to JetStream with SIGKILL mid-flush and
// checks, after a restart on the same spool, that every spooled event is in the stream once.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	js := jetStream(t)
	st, subject := newStream(t, js)
	meteringtest.RunCrash(t, meteringtest.CrashConfig{
		Target: tollgatetest.NATSURL(t) + "\t" + subject,
		NewSink: func(t *testing.T) metering.Sink {
			s, err := natssink.New(natssink.Config{JetStream: js, Subject: subject})
			require.NoError(t, err)
			return s
		},
		Read: func(ctx context.Context) ([]metering.Event, error) { return natssink.ReadAll(ctx, st) },
	})
}
