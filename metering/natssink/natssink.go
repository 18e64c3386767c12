// Package natssink publishes usage events to a NATS JetStream stream: a metering.Sink over
// the jetstream.JetStream the service already has.
//
// # Quick start
//
//	nc, err := nats.Connect(os.Getenv("NATS_URL"))
//	js, err := jetstream.New(nc)
//	_, err = natssink.EnsureStream(ctx, js, natssink.StreamConfig{Name: "USAGE", Subject: "usage.events"})
//	sink, err := natssink.New(natssink.Config{JetStream: js, Subject: "usage.events"})
//	meter, err := metering.New(metering.Config{Dir: dataDir, Sink: sink})
//
// # Delivery
//
// Each event is one message: the CloudEvents JSON event as the body, with the event id as
// the Nats-Msg-Id header. Write publishes the batch asynchronously and returns nil only
// after the stream has acknowledged every message, i.e. stored it. A redelivered event
// carries the same Nats-Msg-Id, so JetStream drops it as a duplicate, provided it arrives
// within the stream's duplicate window: EnsureStream sets one hour, long enough to cover a
// restart and a sink outage of that length. Consumers downstream should still treat the id
// as the key, as they would for any at-least-once feed.
//
// Create the JetStream context with jetstream.WithPublishAsyncTimeout (a few seconds): a
// publish whose ack is lost in a disconnect then fails instead of occupying one of the
// client's async publish slots forever. The Meter retries the batch and the duplicate
// window absorbs whatever had in fact been stored.
package natssink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tollgate-dev/tollgate/metering"
)

// Config configures a Sink.
type Config struct {
	// JetStream publishes the messages. Required.
	JetStream jetstream.JetStream
	// Subject the events are published to; a stream must capture it. Required.
	Subject string
	// MaxInFlight bounds the messages awaiting acknowledgement at once; zero means 1000.
	// It keeps a large batch within the client's async publish limit.
	MaxInFlight int
}

// Sink publishes events to JetStream.
type Sink struct {
	cfg Config
}

var _ metering.Sink = (*Sink)(nil)

// New validates cfg.
func New(cfg Config) (*Sink, error) {
	if cfg.JetStream == nil {
		return nil, errors.New("natssink: Config.JetStream is required")
	}
	if cfg.Subject == "" {
		return nil, errors.New("natssink: Config.Subject is required")
	}
	if cfg.MaxInFlight < 0 {
		return nil, errors.New("natssink: negative MaxInFlight")
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 1000
	}
	return &Sink{cfg: cfg}, nil
}

// Write publishes events and returns nil once JetStream has acknowledged all of them.
func (s *Sink) Write(ctx context.Context, events []metering.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A sliding window keeps MaxInFlight publishes outstanding: the pipe stays full without
	// exceeding the client's async publish limit.
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	waited := 0
	wait := func() error {
		select {
		case <-futures[waited].Ok():
		case err := <-futures[waited].Err():
			return fmt.Errorf("natssink: publish: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
		futures[waited] = nil
		waited++
		return nil
	}
	for i := range events {
		if len(futures)-waited >= s.cfg.MaxInFlight {
			if err := wait(); err != nil {
				return err
			}
		}
		data, err := events[i].MarshalJSON()
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: s.cfg.Subject, Data: data, Header: nats.Header{}}
		msg.Header.Set("Content-Type", "application/cloudevents+json")
		f, err := s.cfg.JetStream.PublishMsgAsync(msg, jetstream.WithMsgID(events[i].ID.String()))
		if err != nil {
			return fmt.Errorf("natssink: publish: %w", err)
		}
		futures = append(futures, f)
	}
	for waited < len(futures) {
		if err := wait(); err != nil {
			return err
		}
	}
	return nil
}

// StreamConfig describes the stream EnsureStream creates.
type StreamConfig struct {
	// Name of the stream. Required.
	Name string
	// Subject the stream captures. Required.
	Subject string
	// Duplicates is the deduplication window; zero means one hour.
	Duplicates time.Duration
	// Replicas for a clustered server; zero means 1.
	Replicas int
}

// EnsureStream creates the stream, or updates an existing one to capture Subject with the
// given duplicate window. Storage is on file: usage is a record of money.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	if cfg.Name == "" || cfg.Subject == "" {
		return nil, errors.New("natssink: stream Name and Subject are required")
	}
	if cfg.Duplicates == 0 {
		cfg.Duplicates = time.Hour
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: cfg.Name, Subjects: []string{cfg.Subject}, Storage: jetstream.FileStorage,
		Duplicates: cfg.Duplicates, Replicas: max(cfg.Replicas, 1),
		Description: "Tollgate usage events (CloudEvents JSON, Nats-Msg-Id = event id)",
	})
	if err != nil {
		return nil, fmt.Errorf("natssink: stream %s: %w", cfg.Name, err)
	}
	return st, nil
}

// ReadAll returns every event in the stream, oldest first. It is meant for tests and
// tools; consumers in production read with their own durable consumer.
func ReadAll(ctx context.Context, st jetstream.Stream) ([]metering.Event, error) {
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	want := info.State.Msgs
	if want == 0 {
		return nil, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	out := make([]metering.Event, 0, want)
	for uint64(len(out)) < want {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return out, err
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			e, err := metering.DecodeEvent(msg.Data())
			if err != nil {
				return out, err
			}
			out = append(out, e)
		}
		if err := batch.Error(); err != nil {
			return out, err
		}
		if n == 0 {
			return out, fmt.Errorf("natssink: stream has %d messages, read %d", want, len(out))
		}
	}
	return out, nil
}
