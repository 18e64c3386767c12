package natssink_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tollgate-dev/tollgate/metering/meteringtest"
	"github.com/tollgate-dev/tollgate/metering/natssink"
)

// BenchmarkWriteVsPublishAsync compares Sink.Write with raw PublishMsgAsync of the same
// messages (same body and Nats-Msg-Id) followed by waiting for every ack. Each iteration
// runs both, alternating which goes first; ratio is natssink events/s over raw events/s.
// Both sides encode the events to JSON inside the timed region, as any publisher must; the
// pre-encoded figure (raw-noencode-events/s) shows the publish path alone.
func BenchmarkWriteVsPublishAsync(b *testing.B) {
	const batch = 2000
	js := jetStream(b)
	_, rawSubject := newStream(b, js)
	_, sinkSubject := newStream(b, js)
	sink, err := natssink.New(natssink.Config{JetStream: js, Subject: sinkSubject})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var rawTime, sinkTime, publishTime time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		evs := meteringtest.Events(batch, "bench", time.Now())
		runRaw := func() {
			start := time.Now()
			msgs := make([]*nats.Msg, len(evs))
			for j := range evs {
				data, _ := evs[j].MarshalJSON()
				msgs[j] = &nats.Msg{Subject: rawSubject, Data: data, Header: nats.Header{}}
			}
			encoded := time.Now()
			for j, m := range msgs {
				if _, err := js.PublishMsgAsync(m, jetstream.WithMsgID(evs[j].ID.String())); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				b.Fatal("acks did not arrive")
			}
			rawTime += time.Since(start)
			publishTime += time.Since(encoded)
		}
		runSink := func() {
			start := time.Now()
			if err := sink.Write(ctx, evs); err != nil {
				b.Fatal(err)
			}
			sinkTime += time.Since(start)
		}
		if i++; i%2 == 0 {
			runRaw()
			runSink()
		} else {
			runSink()
			runRaw()
		}
	}
	n := float64(b.N * batch)
	b.ReportMetric(n/rawTime.Seconds(), "raw-events/s")
	b.ReportMetric(n/publishTime.Seconds(), "raw-noencode-events/s")
	b.ReportMetric(n/sinkTime.Seconds(), "natssink-events/s")
	b.ReportMetric(rawTime.Seconds()/sinkTime.Seconds(), "ratio")
}
