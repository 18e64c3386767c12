package natssink_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/metering/meteringtest"
	"github.com/tollgate-dev/tollgate/metering/natssink"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

func jetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(tollgatetest.NATSURL(t))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// newStream creates a stream and subject of the test's own, deleted when it ends.
func newStream(t testing.TB, js jetstream.JetStream) (jetstream.Stream, string) {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	subject := "tollgate.test.usage." + suffix
	st, err := natssink.EnsureStream(context.Background(), js, natssink.StreamConfig{
		Name: "TOLLGATE_TEST_" + strings.ToUpper(suffix), Subject: subject})
	require.NoError(t, err)
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), st.CachedInfo().Config.Name) })
	return st, subject
}

func TestConformance(t *testing.T) {
	js := jetStream(t)
	meteringtest.RunSink(t, func(t *testing.T) meteringtest.Target {
		st, subject := newStream(t, js)
		s, err := natssink.New(natssink.Config{JetStream: js, Subject: subject})
		require.NoError(t, err)
		return meteringtest.Target{Sink: s, Read: func(ctx context.Context) ([]metering.Event, error) {
			return natssink.ReadAll(ctx, st)
		}}
	})
}

func TestMeterIntoJetStream(t *testing.T) {
	js := jetStream(t)
	st, subject := newStream(t, js)
	s, err := natssink.New(natssink.Config{JetStream: js, Subject: subject})
	require.NoError(t, err)
	m, err := metering.New(metering.Config{Dir: t.TempDir(), Sink: s})
	require.NoError(t, err)
	for range 500 {
		require.NoError(t, m.Record(context.Background(), metering.Event{Consumer: "acme"}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))
	evs, err := natssink.ReadAll(ctx, st)
	require.NoError(t, err)
	assert.Len(t, evs, 500)
}

func TestNewValidates(t *testing.T) {
	_, err := natssink.New(natssink.Config{})
	assert.Error(t, err)
	_, err = natssink.New(natssink.Config{JetStream: jetStream(t)})
	assert.Error(t, err)
}
