package metering

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const instrumentationName = "github.com/tollgate-dev/tollgate/metering"

// instruments are the Meter's own metrics. Losing an event is never silent: it shows as
// tollgate.metering.events.dropped with the sink's name, next to a logged error.
type instruments struct {
	queuedC, spilledC, rejectedC, dedupC metric.Int64Counter
	invalidC                             metric.Int64Counter
	deliveredC, droppedC, corruptC       metric.Int64Counter
	sinkErrC                             metric.Int64Counter
	reg                                  metric.Registration
}

func newInstruments(mp metric.MeterProvider, m *Meter) (*instruments, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	mt := mp.Meter(instrumentationName)
	in := &instruments{}
	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		c, err := mt.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{event}"))
		errs = append(errs, err)
		return c
	}
	in.queuedC = counter("tollgate.metering.events.queued", "Events written to the sinks' spools or queues.")
	in.spilledC = counter("tollgate.metering.events.spilled", "Events written straight to the spool because the memory queue was full.")
	in.rejectedC = counter("tollgate.metering.events.rejected", "Events refused with ErrQueueFull (the caller was told).")
	in.invalidC = counter("tollgate.metering.events.invalid", "Events refused with ErrInvalidEvent (the caller was told).")
	in.dedupC = counter("tollgate.metering.events.deduplicated", "Repeated requests with the same Idempotency-Key metered once.")
	in.deliveredC = counter("tollgate.metering.events.delivered", "Events acknowledged by a sink.")
	in.droppedC = counter("tollgate.metering.events.dropped", "Events lost for a sink (spool write failure or Close without a spool).")
	in.corruptC = counter("tollgate.metering.events.corrupt", "Spooled records that could not be decoded.")
	in.sinkErrC = counter("tollgate.metering.sink.errors", "Failed sink writes (each is retried).")
	lag, err := mt.Int64ObservableGauge("tollgate.metering.lag",
		metric.WithDescription("Events recorded but not yet acknowledged by the sink."), metric.WithUnit("{event}"))
	errs = append(errs, err)
	queue, err := mt.Int64ObservableGauge("tollgate.metering.queue.length",
		metric.WithDescription("Events waiting in memory for the flusher."), metric.WithUnit("{event}"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	in.reg, err = mt.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		m.mu.Lock()
		n := len(m.buf)
		m.mu.Unlock()
		o.ObserveInt64(queue, int64(n))
		for _, l := range m.lanes {
			o.ObserveInt64(lag, l.q.pending(), metric.WithAttributes(attribute.String("sink", l.name)))
		}
		return nil
	}, lag, queue)
	return in, err
}

var bg = context.Background()

func (in *instruments) queued(n int)       { in.queuedC.Add(bg, int64(n)) }
func (in *instruments) spilled(n int)      { in.spilledC.Add(bg, int64(n)) }
func (in *instruments) rejected(n int)     { in.rejectedC.Add(bg, int64(n)) }
func (in *instruments) invalid(n int)      { in.invalidC.Add(bg, int64(n)) }
func (in *instruments) deduplicated(n int) { in.dedupC.Add(bg, int64(n)) }
func (in *instruments) delivered(sink string, n int) {
	in.deliveredC.Add(bg, int64(n), metric.WithAttributes(attribute.String("sink", sink)))
}
func (in *instruments) dropped(sink string, n int) {
	in.droppedC.Add(bg, int64(n), metric.WithAttributes(attribute.String("sink", sink)))
}
func (in *instruments) corrupted(sink string, n int) {
	in.corruptC.Add(bg, int64(n), metric.WithAttributes(attribute.String("sink", sink)))
}
func (in *instruments) sinkError(sink string) {
	in.sinkErrC.Add(bg, 1, metric.WithAttributes(attribute.String("sink", sink)))
}
