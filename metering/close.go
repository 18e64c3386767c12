package metering

import (
	"cmp"
	"context"
	"fmt"
	"time"
)

// Close stops accepting events, spools everything recorded and waits until every sink has
// every event, or ctx is done. In the latter case events still undelivered stay in the spool
// for the next start (the error says how many); without a Dir they are lost and the error
// says so. Close is idempotent; later calls return the first call's result.
func (m *Meter) Close(ctx context.Context) error {
	m.closeOnce.Do(func() { m.closeErr = m.close(ctx) })
	return m.closeErr
}

func (m *Meter) close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	close(m.stop)
	m.flusherWG.Wait()
	m.flushMu.Lock()
	stashed := m.stashedEvents()
	m.flushMu.Unlock()
	if stashed > 0 {
		m.mu.Lock()
		stashed += len(m.buf) // never taken from the queue while the spool refused writes
		m.mu.Unlock()
	}
	if m.cfg.Dir == "" {
		// Memory lanes may have held some events back; what is left when ctx ends is
		// counted as lost below.
		_ = m.flushAll(ctx)
	}
	close(m.drain)
	lanesDone := make(chan struct{})
	go func() { m.lanesWG.Wait(); close(lanesDone) }()
	var err error
	select {
	case <-lanesDone:
	case <-ctx.Done():
		m.abort()
		<-lanesDone
		err = m.undelivered(ctx.Err())
	}
	if stashed > 0 {
		for _, l := range m.lanes {
			m.metrics.dropped(l.name, len(l.stash))
		}
		err = cmp.Or(err, fmt.Errorf("metering: %d events lost: the spool under %s could not be written", stashed, m.cfg.Dir))
	}
	m.abort()
	_ = m.metrics.reg.Unregister()
	m.flushMu.Lock() // a Record spilling right now finishes its append first
	if cerr := m.closeLanes(); err == nil {
		err = cerr
	}
	m.flushMu.Unlock()
	if m.store != nil {
		if cerr := m.store.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (m *Meter) undelivered(cause error) error {
	var n int64
	for _, l := range m.lanes {
		n += l.q.pending()
	}
	m.mu.Lock()
	n += int64(len(m.buf))
	m.mu.Unlock()
	if m.cfg.Dir != "" {
		return fmt.Errorf("metering: %d events stay spooled under %s for the next start: %w", n, m.cfg.Dir, cause)
	}
	for _, l := range m.lanes {
		m.metrics.dropped(l.name, int(l.q.pending()))
	}
	return fmt.Errorf("metering: %d events lost: no spool directory and the sinks did not take them in time: %w", n, cause)
}

func (m *Meter) closeOnFailure() {
	_ = m.closeLanes()
	if m.store != nil {
		_ = m.store.Close()
	}
}

func (m *Meter) closeLanes() error {
	var err error
	for _, l := range m.lanes {
		if l.q == nil {
			continue
		}
		if cerr := l.q.close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Sync flushes and then waits until every sink has acknowledged every event recorded
// before the call, or ctx is done. It gives a caller read-your-writes over a usage store
// (an endpoint showing "your usage so far"); the request path never needs it.
func (m *Meter) Sync(ctx context.Context) error {
	if err := m.Flush(ctx); err != nil {
		return err
	}
	targets := make([]uint64, len(m.lanes))
	for i, l := range m.lanes {
		targets[i], _ = l.q.progress()
	}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		done := true
		for i, l := range m.lanes {
			if _, acked := l.q.progress(); acked < targets[i] {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
