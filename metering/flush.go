package metering

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// errHeld marks an append the spool refused but whose records are all held in the lanes'
// stashes, to be written before anything else: accepted, not lost.
var errHeld = errors.New("metering: held in memory until the spool takes it")

// errSpoolStalled marks a flush that did nothing because a spool still refuses writes.
var errSpoolStalled = errors.New("metering: spool stalled")

func (m *Meter) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Meter) flusher() {
	defer m.flusherWG.Done()
	t := time.NewTicker(m.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-m.wake:
		case <-t.C:
		case <-m.stop:
			if err := m.flush(); err != nil {
				m.log.Error("metering: final flush", slog.Any("err", err))
			}
			return
		}
		if err := m.flush(); err != nil && !errors.Is(err, errSpoolStalled) {
			m.log.Error("metering: flush", slog.Any("err", err))
		}
	}
}

// Flush moves every event recorded so far to the spool (or, without a Dir, to the sinks'
// memory queues) and returns once they are written there. It does not wait for the sinks.
func (m *Meter) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- m.flushAll(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flushAll flushes until every event in buf when it was called has left it. Without a Dir
// one flush may move nothing (the sinks' memory queues are full); it tries again as the
// lanes make room, until ctx is done.
func (m *Meter) flushAll(ctx context.Context) error {
	m.mu.Lock()
	target := m.taken + uint64(len(m.buf))
	m.mu.Unlock()
	for {
		if err := m.flush(); err != nil {
			return err
		}
		m.mu.Lock()
		done := m.taken >= target
		m.mu.Unlock()
		if done {
			return nil
		}
		t := time.NewTimer(2 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

func (m *Meter) flush() error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	if m.cfg.Durable {
		defer m.flushEnded()
	}
	if m.memoryBacklog() {
		// Without a spool the sinks' queues are bounded: leave events in buf (Record then
		// reports ErrQueueFull) until a lane catches up and kicks the flusher.
		m.backlogged.Store(true)
		return nil
	}
	m.backlogged.Store(false)
	if m.stashedEvents() > 0 {
		if err := m.appendToLanes(nil, nil); err != nil {
			// Leave buf alone until the spool takes the stash (logged when it began).
			return fmt.Errorf("%w: %w", errSpoolStalled, err)
		}
	}
	m.mu.Lock()
	batch := m.buf
	m.taken += uint64(len(batch))
	taken := m.taken
	m.buf = m.spare[:0]
	m.signalled = false
	m.mu.Unlock()
	err := m.deliverToLanes(batch)
	clear(batch) // release the events' strings and maps
	m.spare = batch[:0]
	if err == nil && m.cfg.Durable {
		m.mu.Lock()
		m.spooled = taken
		m.mu.Unlock()
	}
	return err
}

// flushEnded wakes Durable Records waiting for their events to be spooled.
func (m *Meter) flushEnded() {
	m.mu.Lock()
	close(m.spooledCh)
	m.spooledCh = make(chan struct{})
	m.mu.Unlock()
}

// memoryBacklog reports whether a memory lane lacks room for everything in buf.
func (m *Meter) memoryBacklog() bool {
	if m.cfg.Dir != "" {
		return false
	}
	m.mu.Lock()
	n := len(m.buf)
	m.mu.Unlock()
	for _, l := range m.lanes {
		if l.q.(*memQueue).free() < n {
			return true
		}
	}
	return false
}

// deliverToLanes completes the events in place and appends them to every lane. Called with
// flushMu held; batch is the flusher's own buffer (or a fresh slice), so it is modified and
// compacted freely.
func (m *Meter) deliverToLanes(batch []Event) error {
	now := m.cfg.Now()
	w := 0
	for i := range batch {
		ev := &batch[i]
		if ev.ID.Derived() && m.recent.seen(ev.ID, now) {
			m.metrics.deduplicated(1)
			continue
		}
		m.complete(ev)
		if w != i {
			batch[w] = *ev
		}
		w++
	}
	clear(batch[w:])
	events := batch[:w]
	fillRandomIDs(events)
	if len(events) == 0 {
		return m.appendToLanes(nil, nil) // retry any stash
	}
	var records [][]byte
	if m.cfg.Dir != "" {
		records = m.enc.encode(events, func(err error) {
			// Record refuses what cannot be encoded, so this is an event that bypassed it;
			// losing it must not cost the rest of the batch, already taken from buf.
			m.metrics.invalid(1)
			m.log.Error("metering: event lost: cannot encode it", slog.Any("err", err))
		})
		events = events[:len(records)]
	}
	err := m.appendToLanes(events, records)
	if m.stashedEvents() > 0 {
		// A stash keeps records that point into the encoder's buffers. The flusher encodes
		// nothing new while a stash is held, but the stash's bytes must not depend on that.
		m.enc.release()
	}
	return err
}

// encoder turns batches of events into spool records without allocating in the steady
// state: every record of a batch is a slice of one buffer, and both the buffer and the
// slice of records are reused by the next batch. Whoever keeps records past the next
// encode (a lane's stash) must call release first.
type encoder struct {
	buf  []byte
	recs [][]byte
}

// encode encodes events in place, compacting away those that cannot be encoded (after
// reporting each to lost), and returns one record per event kept, in order.
func (e *encoder) encode(events []Event, lost func(error)) [][]byte {
	buf, recs := e.buf[:0], e.recs[:0]
	w := 0
	for i := range events {
		start := len(buf)
		b, err := events[i].AppendJSON(buf)
		if err != nil {
			lost(err)
			buf = b[:start]
			continue
		}
		buf = b
		recs = append(recs, buf[start:len(buf):len(buf)])
		events[w] = events[i]
		w++
	}
	clear(events[w:])
	// A record keeps the array it was cut from: when buf grew mid-batch, the early records
	// point into an older array, which stays valid. Keep the last one unless it is huge.
	if cap(buf) <= maxKeptWriteBuf {
		e.buf, e.recs = buf, recs
	} else {
		e.release()
	}
	return recs
}

// release drops the buffers, leaving records already returned to their holders.
func (e *encoder) release() { e.buf, e.recs = nil, nil }

// complete fills in what Record left for the flusher.
func (m *Meter) complete(ev *Event) {
	if ev.Source == "" {
		ev.Source = m.cfg.Source
	}
	if ev.Type == "" {
		ev.Type = DefaultType
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
}

// appendToLanes appends to every lane. A spool that fails the write (a full or failing
// disk) keeps the records in its lane's stash, retried before anything else on the next
// flush; while a stash is held the flusher takes nothing new, so Record reports
// ErrQueueFull once the queue fills: the caller is told rather than events lost. Called
// with flushMu held.
func (m *Meter) appendToLanes(events []Event, records [][]byte) error {
	var firstErr error
	failing, lost := false, false
	queued := len(events)
	if m.cfg.Dir != "" {
		records = m.dropOversize(records)
		queued = len(records)
	}
	for _, l := range m.lanes {
		if m.cfg.Dir == "" {
			if len(events) == 0 {
				continue
			}
			if err := l.q.append(events, nil); err != nil {
				m.metrics.dropped(l.name, len(events))
				m.log.Error("metering: events lost", slog.String("sink", l.name),
					slog.Int("events", len(events)), slog.Any("err", err))
				firstErr = cmp.Or(firstErr, err)
				continue
			}
			l.notify()
			continue
		}
		recs, evs := records, events
		if len(l.stash) > 0 {
			recs, evs = append(l.stash[:len(l.stash):len(l.stash)], records...), nil
		}
		if len(recs) == 0 {
			continue
		}
		if err := l.q.append(evs, recs); err != nil {
			if over := len(recs) - m.cfg.QueueSize; over > 0 {
				m.metrics.dropped(l.name, over)
				m.log.Error("metering: events lost: spool unwritable and memory stash full",
					slog.String("sink", l.name), slog.Int("events", over), slog.Any("err", err))
				recs = recs[:m.cfg.QueueSize]
				lost = true
			}
			if len(l.stash) == 0 {
				m.log.Error("metering: spool write failed; holding events in memory and retrying",
					slog.String("sink", l.name), slog.Int("events", len(recs)), slog.Any("err", err))
			}
			l.stash = recs
			failing = true
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		l.stash = nil
		l.notify()
	}
	m.spoolFailing.Store(failing)
	m.metrics.queued(queued)
	if failing && !lost && m.cfg.Dir != "" {
		return fmt.Errorf("%w: %w", errHeld, firstErr)
	}
	return firstErr
}

// dropOversize removes records the spool would refuse on every attempt: stashed, one would
// stall the spool for good. Record's limits keep events well below the size, so this
// guards against events that bypassed it. It compacts records in place.
func (m *Meter) dropOversize(records [][]byte) [][]byte {
	w := 0
	for _, r := range records {
		if len(r) > maxRecordSize {
			for _, l := range m.lanes {
				m.metrics.dropped(l.name, 1)
			}
			m.log.Error("metering: event lost: larger than the spool's record limit",
				slog.Int("bytes", len(r)), slog.Int("limit", maxRecordSize))
			continue
		}
		records[w] = r
		w++
	}
	clear(records[w:])
	return records[:w]
}

// stashedEvents counts records held in lane stashes. Called with flushMu held.
func (m *Meter) stashedEvents() int {
	n := 0
	for _, l := range m.lanes {
		n += len(l.stash)
	}
	return n
}
