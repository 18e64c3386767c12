package metering

import "time"

// idWindow remembers derived event ids for a bounded time and count, so a request repeated
// with the same Idempotency-Key is metered once without waiting for a sink to deduplicate.
// It is used only under Meter.flushMu. When the window is full the oldest key is forgotten
// first; the sinks' deduplication on the derived id still catches a later repeat.
type idWindow struct {
	ttl   time.Duration
	cap   int
	at    map[ID]time.Time
	fifo  []idAt
	start int
}

type idAt struct {
	id ID
	at time.Time
}

func newIDWindow(ttl time.Duration, capacity int) *idWindow {
	if ttl < 0 {
		return nil
	}
	return &idWindow{ttl: ttl, cap: capacity, at: make(map[ID]time.Time)}
}

// seen reports whether id was recorded within the window, and records it if not.
func (w *idWindow) seen(id ID, now time.Time) bool {
	if w == nil {
		return false
	}
	if at, ok := w.at[id]; ok && now.Sub(at) < w.ttl {
		return true
	}
	for w.start < len(w.fifo) && (now.Sub(w.fifo[w.start].at) >= w.ttl || len(w.at) >= w.cap) {
		e := w.fifo[w.start]
		if at, ok := w.at[e.id]; ok && at.Equal(e.at) {
			delete(w.at, e.id)
		}
		w.start++
	}
	if w.start > len(w.fifo)/2 {
		w.fifo = append(w.fifo[:0], w.fifo[w.start:]...)
		w.start = 0
	}
	w.at[id] = now
	w.fifo = append(w.fifo, idAt{id, now})
	return false
}
