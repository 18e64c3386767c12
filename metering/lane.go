package metering

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// queue holds one sink's undelivered events: the durable spool when Config.Dir is set, a
// bounded slice otherwise. One goroutine appends (under Meter.flushMu) while the lane's
// goroutine reads, acknowledges and rewinds.
type queue interface {
	append(events []Event, records [][]byte) error
	next(max int) ([]Event, error)
	ack() error
	rewind()
	pending() int64
	// progress returns running totals of records appended and acknowledged; only their
	// difference over time means anything.
	progress() (appended, acked uint64)
	close() error
}

type spoolQueue struct {
	s       *spool
	corrupt func(n int)

	// hot holds the latest appended events as a sink would read them back from the spool
	// (sinkForm), from sequence hotBase on, so a lane that keeps up delivers them without
	// reading and decoding what it has just written. A lane that falls behind by more than
	// hotMax events reads the spool. The flusher appends; the lane reads and trims.
	mu      sync.Mutex
	hot     []Event
	hotBase uint64
	hotMax  int
	// fromCopy and fromDisk count the events next returned each way.
	fromCopy, fromDisk atomic.Int64
}

func (q *spoolQueue) append(events []Event, records [][]byte) error {
	base := q.s.appended()
	if err := q.s.append(records); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(events) != len(records) || q.hotBase+uint64(len(q.hot)) != base {
		// Records without their events (a stash written late), or a gap: start afresh.
		clear(q.hot)
		q.hot, q.hotBase = q.hot[:0], base
		if len(events) != len(records) {
			q.hotBase += uint64(len(records))
			return nil
		}
	}
	for _, e := range events {
		q.hot = append(q.hot, sinkForm(e))
	}
	if over := len(q.hot) - q.hotMax; over > 0 {
		q.dropHot(over)
	}
	return nil
}

// dropHot forgets the oldest n events of hot. Called with mu held.
func (q *spoolQueue) dropHot(n int) {
	n = min(n, len(q.hot))
	rest := copy(q.hot, q.hot[n:])
	clear(q.hot[rest:])
	q.hot = q.hot[:rest]
	q.hotBase += uint64(n)
}

// sinkForm is e as DecodeEvent returns it from its spooled record: the time in UTC without
// a monotonic reading, and no empty Units map.
func sinkForm(e Event) Event {
	e.Time = e.Time.UTC()
	if len(e.Units) == 0 {
		e.Units = nil
	}
	return e
}

func (q *spoolQueue) ack() error {
	if err := q.s.ack(); err != nil {
		return err
	}
	// What is acknowledged is never read again, not even after a rewind.
	_, acked := q.s.progress()
	q.mu.Lock()
	if acked > q.hotBase {
		q.dropHot(int(min(acked-q.hotBase, uint64(len(q.hot)))))
	}
	q.mu.Unlock()
	return nil
}

func (q *spoolQueue) rewind()                    { q.s.rewind() }
func (q *spoolQueue) pending() int64             { return q.s.pending() }
func (q *spoolQueue) close() error               { return q.s.close() }
func (q *spoolQueue) progress() (uint64, uint64) { return q.s.progress() }

func (q *spoolQueue) next(max int) ([]Event, error) {
	pos := q.s.readPos()
	q.mu.Lock()
	if pos >= q.hotBase && pos < q.hotBase+uint64(len(q.hot)) {
		from := int(pos - q.hotBase)
		out := slices.Clone(q.hot[from : from+min(max, len(q.hot)-from)])
		q.mu.Unlock()
		q.s.skip(len(out))
		q.fromCopy.Add(int64(len(out)))
		return out, nil
	}
	q.mu.Unlock()
	for {
		recs, err := q.s.read(max)
		out := make([]Event, 0, len(recs))
		for _, r := range recs {
			e, derr := DecodeEvent(r)
			if derr != nil {
				// The CRC matched, so the record is what was written; an undecodable one
				// can only come from a different version of this package. Skip it, loudly.
				q.corrupt(1)
				continue
			}
			out = append(out, e)
		}
		if err != nil || len(out) > 0 || len(recs) == 0 {
			q.fromDisk.Add(int64(len(out)))
			return out, err
		}
		// Everything read was skipped: nothing will be delivered to acknowledge it, so
		// acknowledge it here, or the lane would wait forever on records it cannot use.
		if err := q.s.ack(); err != nil {
			return nil, err
		}
	}
}

// memQueue is a lane's queue without a spool: a fixed ring of events. The flusher copies a
// batch in only when all of it fits, so memory stays bounded and nothing allocates in the
// steady state.
type memQueue struct {
	mu   sync.Mutex
	ring []Event
	head int // first unacknowledged
	read int // events handed out but not acknowledged, from head
	n    int // events in the ring

	appended, acked uint64
}

func newMemQueue(capacity int) *memQueue { return &memQueue{ring: make([]Event, capacity)} }

func (q *memQueue) free() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ring) - q.n
}

func (q *memQueue) append(events []Event, _ [][]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ring)-q.n < len(events) {
		return ErrQueueFull // the flusher checks free first; this is a bug guard
	}
	tail := (q.head + q.n) % len(q.ring)
	c := copy(q.ring[tail:], events)
	copy(q.ring, events[c:])
	q.n += len(events)
	q.appended += uint64(len(events))
	return nil
}

func (q *memQueue) next(max int) ([]Event, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.read == q.n {
		return nil, nil
	}
	start := (q.head + q.read) % len(q.ring)
	end := min(start+max, start+q.n-q.read, len(q.ring))
	q.read += end - start
	// No copy: the flusher never writes these slots until ack frees them.
	return q.ring[start:end:end], nil
}

func (q *memQueue) ack() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.acked += uint64(q.read)
	for done := q.read; done > 0; {
		end := min(q.head+done, len(q.ring))
		clear(q.ring[q.head:end])
		done -= end - q.head
		q.n -= end - q.head
		q.head = end % len(q.ring)
	}
	q.read = 0
	return nil
}

func (q *memQueue) rewind() {
	q.mu.Lock()
	q.read = 0
	q.mu.Unlock()
}

func (q *memQueue) pending() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int64(q.n)
}

func (q *memQueue) close() error { return nil }

func (q *memQueue) progress() (uint64, uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.appended, q.acked
}

// lane delivers one sink's queue, so a slow or failing sink holds back only itself.
type lane struct {
	name string
	sink Sink
	q    queue
	wake chan struct{}
	m    *Meter
	// stash holds encoded events the spool refused, under Meter.flushMu.
	stash [][]byte
}

func (l *lane) notify() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run delivers batches until drain is closed and the queue is empty, or abort is cancelled.
func (l *lane) run(abort context.Context, drain <-chan struct{}) {
	m := l.m
	for {
		events, err := l.q.next(m.cfg.BatchSize)
		if err != nil {
			// A spool that cannot be read now (a full or failing disk) may be readable
			// later; start again from the first unacknowledged record after a pause.
			m.log.Error("metering: reading spool", slog.String("sink", l.name), slog.Any("err", err))
			l.q.rewind()
			select {
			case <-abort.Done():
				return
			case <-time.After(m.cfg.RetryMax):
			}
			continue
		}
		if len(events) == 0 {
			select {
			case <-l.wake:
				continue
			case <-abort.Done():
				return
			case <-drain:
				if l.q.pending() == 0 {
					return
				}
				// Records may have been appended since next looked; look again after a
				// short pause rather than spinning.
				select {
				case <-l.wake:
				case <-abort.Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
				continue
			}
		}
		if !l.deliver(abort, events) {
			l.q.rewind()
			return
		}
		if err := l.q.ack(); err != nil {
			m.log.Error("metering: acknowledging spool", slog.String("sink", l.name), slog.Any("err", err))
		}
		m.metrics.delivered(l.name, len(events))
		if m.backlogged.Load() {
			// Without a spool the flusher may be holding events back for room in this
			// queue; there is room now.
			m.kick()
		}
	}
}

// deliver writes events until the sink accepts them; it gives up only when abort is done.
func (l *lane) deliver(abort context.Context, events []Event) bool {
	m := l.m
	backoff := m.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(abort, m.cfg.WriteTimeout)
		err := l.sink.Write(ctx, events)
		cancel()
		if err == nil {
			return true
		}
		if abort.Err() != nil {
			return false
		}
		m.metrics.sinkError(l.name)
		m.log.Warn("metering: sink write failed; retrying",
			slog.String("sink", l.name), slog.Int("events", len(events)),
			slog.Int("attempt", attempt), slog.Any("err", err))
		// Full jitter keeps many replicas from retrying a recovering sink in lockstep.
		wait := time.Duration(rand.Int64N(int64(backoff)) + 1)
		backoff = min(backoff*2, m.cfg.RetryMax)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-abort.Done():
			t.Stop()
			return false
		}
	}
}
