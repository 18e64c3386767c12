package metering

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"
)

// StoreConfig configures a Store. The zero value is an in-memory store.
type StoreConfig struct {
	// Dir holds the store's event log; empty means memory only.
	Dir string
	// Sync is the log's fsync policy; the zero value fsyncs every write, so Write's nil
	// means the events are on disk.
	Sync SyncPolicy
}

// Store is the in-process usage store: a Sink that keeps every event (in an append-only log
// under Dir, or in memory) and a UsageReader that sums them. It deduplicates on the event
// id. It suits development and single-instance services; several replicas need a shared
// store such as pgsink.
//
// Memory use grows with the number of distinct events (about 100 bytes each for the id
// index and the hourly aggregates); the log on disk keeps every event.
type Store struct {
	mu     sync.Mutex
	log    *spool
	ids    map[ID]struct{}
	hours  map[hourKey]*aggregate
	events []Event // memory mode only
	closed bool
	// batch and enc are Write's scratch space, reused under mu.
	batch map[ID]struct{}
	enc   encoder
}

type hourKey struct {
	consumer, meter string
	hour            int64 // Unix hours
}

type aggregate struct{ sum, count int64 }

var _ Sink = (*Store)(nil)
var _ UsageReader = (*Store)(nil)

// NewStore opens the store, replaying the log under Dir.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.Sync != SyncBatch && cfg.Sync != SyncNone {
		return nil, fmt.Errorf("metering: unknown SyncPolicy %d", cfg.Sync)
	}
	s := &Store{ids: make(map[ID]struct{}), hours: make(map[hourKey]*aggregate)}
	if cfg.Dir == "" {
		return s, nil
	}
	sp, err := openSpool(cfg.Dir, cfg.Sync, 0)
	if err != nil {
		return nil, err
	}
	s.log = sp
	err = sp.scanAll(func(rec []byte) error {
		e, err := DecodeEvent(rec)
		if err != nil {
			return fmt.Errorf("metering: store log: %w", err)
		}
		s.add(&e)
		return nil
	})
	if err != nil {
		_ = sp.close()
		return nil, err
	}
	return s, nil
}

// Write stores the events not already stored. With a Dir it returns once they are written
// (and fsynced under SyncBatch).
func (s *Store) Write(ctx context.Context, events []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	fresh := make([]Event, 0, len(events))
	if s.batch == nil {
		s.batch = make(map[ID]struct{}, len(events))
	}
	clear(s.batch)
	for _, e := range events {
		if _, dup := s.ids[e.ID]; dup {
			continue
		}
		if _, dup := s.batch[e.ID]; dup {
			continue
		}
		s.batch[e.ID] = struct{}{}
		fresh = append(fresh, e)
	}
	if s.log != nil && len(fresh) > 0 {
		var bad error
		recs := s.enc.encode(fresh, func(err error) { bad = cmp.Or(bad, err) })
		if bad != nil {
			// The Meter never hands over an event it cannot encode; another caller learns
			// which batch was refused, and nothing of it is stored.
			s.enc.release()
			return bad
		}
		if err := s.log.append(recs); err != nil {
			return err
		}
	}
	for i := range fresh {
		s.add(&fresh[i])
		if s.log == nil {
			s.events = append(s.events, fresh[i])
		}
	}
	return nil
}

func (s *Store) add(e *Event) {
	if _, dup := s.ids[e.ID]; dup {
		return
	}
	s.ids[e.ID] = struct{}{}
	h := e.Time.Unix() / 3600
	if e.Time.Unix() < 0 && e.Time.Unix()%3600 != 0 {
		h-- // floor for times before 1970
	}
	for meter, n := range e.Units {
		k := hourKey{e.Consumer, meter, h}
		a := s.hours[k]
		if a == nil {
			a = &aggregate{}
			s.hours[k] = a
		}
		a.sum += n
		a.count++
	}
}

// Usage sums the stored events.
func (s *Store) Usage(ctx context.Context, q UsageQuery) ([]UsageRow, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	from := q.Window.Start(q.From).Unix() / 3600
	if q.From.IsZero() {
		from = -1 << 62
	}
	to := int64(1 << 62)
	if !q.To.IsZero() {
		to = q.To.Unix() / 3600 // Validate keeps To on a whole hour
	}
	type rowKey struct {
		meter string
		start int64
	}
	rows := map[rowKey]*UsageRow{}
	s.mu.Lock()
	for k, a := range s.hours {
		if k.consumer != q.Consumer || (q.Meter != "" && k.meter != q.Meter) || k.hour < from || k.hour >= to {
			continue
		}
		start := q.Window.Start(time.Unix(k.hour*3600, 0))
		rk := rowKey{k.meter, start.Unix()}
		r := rows[rk]
		if r == nil {
			r = &UsageRow{Consumer: q.Consumer, Meter: k.meter, Start: start}
			rows[rk] = r
		}
		r.Sum += a.sum
		r.Count += a.count
	}
	s.mu.Unlock()
	out := make([]UsageRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b UsageRow) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Meter, b.Meter))
	})
	return out, nil
}

// Events returns every stored event in the order stored. It reads the whole log; it is
// meant for tests and tools, not the request path.
func (s *Store) Events(ctx context.Context) ([]Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return slices.Clone(s.events), ctx.Err()
	}
	var out []Event
	err := s.log.scanAll(func(rec []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := DecodeEvent(rec)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Close closes the log. Writes after Close fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.log != nil {
		return s.log.close()
	}
	return nil
}

// scanAll calls fn for every whole record in every segment, from the first, independently
// of the reader position. Appends must not run concurrently.
func (sp *spool) scanAll(fn func([]byte) error) error {
	sp.mu.Lock()
	segs := slices.Clone(sp.segs)
	sp.mu.Unlock()
	for _, seg := range segs {
		f, err := os.Open(seg.path(sp.dir))
		if err != nil {
			return fmt.Errorf("metering: %w", err)
		}
		r := bufio.NewReaderSize(io.NewSectionReader(f, 0, seg.size), 64<<10)
		for {
			rec, _, err := readFrame(r, nil)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = f.Close()
				return fmt.Errorf("metering: %s: %w", seg.path(sp.dir), err)
			}
			if err := fn(rec); err != nil {
				_ = f.Close()
				return err
			}
		}
		_ = f.Close()
	}
	return nil
}
