package metering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-dev/tollgate/auth"
)

// Sink stores usage events. It is the port a backend implements.
//
// Write returns nil only once every event in the batch is durable in the sink. A batch may
// repeat events the sink already has (after a crash, a timeout or a retry): sinks store each
// event ID once. On error the Meter retries the whole batch later, so a partial write must be
// safe to repeat. Write returns promptly with ctx's error when ctx is cancelled. A sink must
// not keep the slice after Write returns.
type Sink interface {
	Write(ctx context.Context, events []Event) error
}

// SinkFunc adapts a function to the Sink interface.
type SinkFunc func(ctx context.Context, events []Event) error

// Write calls f(ctx, events).
func (f SinkFunc) Write(ctx context.Context, events []Event) error { return f(ctx, events) }

// OverflowPolicy says what happens when the in-memory queue is full.
type OverflowPolicy int

const (
	// OverflowSpill writes the event straight to the spool when the queue is full (the
	// default). Record then costs a disk write instead of a slice append but still does not
	// wait for any sink. Without a Dir there is no spool and Spill behaves like Reject.
	OverflowSpill OverflowPolicy = iota
	// OverflowReject refuses billable operations with 503 Service Unavailable before their
	// handler runs, and makes Record return ErrQueueFull, so nothing runs unmetered.
	OverflowReject
)

// Errors returned by Record, Flush and Close.
var (
	// ErrQueueFull is returned by Record when the queue is full and the event could not
	// be spilled to the spool. The event was not accepted.
	ErrQueueFull = errors.New("metering: queue full")
	// ErrClosed is returned by Record after Close.
	ErrClosed = errors.New("metering: meter closed")
	// ErrSpoolFull is the spool's refusal at MaxSpoolBytes, logged and counted as a
	// spool write failure; Record then reports ErrQueueFull or ErrNotDurable.
	ErrSpoolFull = errors.New("metering: spool at MaxSpoolBytes")
	// ErrNotDurable is returned by Record under Config.Durable when the event was
	// accepted, and will be delivered unless the process dies, but is not in the spool:
	// the spool refused the write (full, failing or at MaxSpoolBytes) or did not take it
	// within WriteTimeout. Do not record it again: that would bill it twice.
	ErrNotDurable = errors.New("metering: event accepted but not yet spooled")
)

// Config configures a Meter. The zero value works: events are kept in memory, delivered to
// an in-memory Store (see Meter.Usage), and nothing survives a restart. Set Dir to make
// delivery durable.
type Config struct {
	// Sink receives every event. Nil (and no Sinks) means a Store: under Dir when Dir is
	// set, in memory otherwise.
	Sink Sink
	// Sinks are further sinks, by name. Each has its own spool and delivery goroutine, so
	// one slow or failing sink does not hold back the others. Sink, when set, is named
	// "default". Names are directory names under Dir: letters, digits, '-', '_' and '.'.
	Sinks map[string]Sink
	// Dir holds the durable spool, one subdirectory per sink. Empty means no spool: events
	// wait in memory and are lost if the process dies before the sink has them.
	Dir string
	// Sync is the spool's fsync policy; the zero value fsyncs every batch.
	Sync SyncPolicy
	// SegmentBytes is the size at which the spool starts a new segment file; zero means
	// 16 MiB, or a quarter of MaxSpoolBytes when that is smaller.
	SegmentBytes int64
	// MaxSpoolBytes bounds each sink's spool: the segment files holding events its sink has
	// not acknowledged. Zero means no bound but the disk. A spool at its bound takes nothing
	// more until its sink catches up, as with a full disk: events wait in memory (up to
	// QueueSize), then Overflow applies. Under OverflowReject billable calls are refused
	// with 503 before they run (and at once under Durable, which cannot spool them); under
	// OverflowSpill Record reports ErrQueueFull and the event is counted as rejected.
	MaxSpoolBytes int64
	// QueueSize bounds the events waiting in memory for the flusher; zero means 16384.
	QueueSize int
	// BatchSize is how many events the flusher and each sink take at once; zero means 512.
	BatchSize int
	// FlushInterval is the longest an event waits in memory before it is spooled; zero
	// means 200ms. Events are crash-safe once spooled; Flush forces it.
	FlushInterval time.Duration
	// Overflow is the queue-full policy; the zero value spills to the spool.
	Overflow OverflowPolicy
	// Durable makes Record return only once the event is written to every spool (and
	// fsynced, under SyncBatch), so a response sent after it is never for a call the
	// spool lacks, even if the process is killed the next instant. Concurrent Records share
	// one write: the flusher is woken at once and spools whatever has gathered (a group
	// commit), so the cost is one write (and fsync) per wake-up, not per event. Requires
	// Dir. Without it an event can be lost if the process dies within FlushInterval of it.
	//
	// The middleware records after the handler returns and before net/http sends a
	// buffered response, so a client never sees the response of an unspooled call unless
	// the handler flushed it or wrote more than the server's buffer (4 KiB by default).
	Durable bool
	// Source is the CloudEvents source of the events; empty means "tollgate". Use a URI
	// naming the service ("//delivery.example.com").
	Source string
	// IdempotencyWindow is how long a request's Idempotency-Key is remembered in process so
	// a repeat is metered once; zero means 24h, negative disables the in-process window
	// (sinks still deduplicate on the derived event id).
	IdempotencyWindow time.Duration
	// IdempotencyCapacity bounds the keys remembered; zero means 100000.
	IdempotencyCapacity int
	// RetryMin and RetryMax bound the backoff between failed sink writes; zero means
	// 100ms and 30s. Delivery is retried until it succeeds or Close gives up.
	RetryMin, RetryMax time.Duration
	// WriteTimeout bounds one Sink.Write call; zero means 30s.
	WriteTimeout time.Duration
	// MeterProvider receives the package's own metrics (queued, spilled, rejected,
	// delivered, lag); nil means the global provider.
	MeterProvider metric.MeterProvider
	// Logger receives delivery errors; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var sinkName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// Meter records usage events and delivers them to its sinks. Its methods are safe for
// concurrent use.
type Meter struct {
	cfg     Config
	log     *slog.Logger
	metrics *instruments
	store   *Store // the default sink, when Config had none

	mu      sync.Mutex
	buf     []Event
	taken   uint64 // events the flusher has taken from buf, ever
	spooled uint64 // of those, the events written to every spool (Durable)
	// spooledCh is closed and replaced whenever a flush ends, waking Durable Records.
	spooledCh chan struct{}
	signalled bool
	closed    bool
	wake      chan struct{}

	flushMu sync.Mutex // serialises moving events from buf (or a spill) into the lanes
	spare   []Event    // the buffer swapped in at the next flush
	enc     encoder    // encodes spooled batches, under flushMu
	recent  *idWindow
	// backlogged says the last flush found no room in a memory lane; the lane kicks the
	// flusher when it frees some.
	backlogged atomic.Bool
	// spoolFailing says a spool refused the last write; spilling is pointless until it
	// recovers.
	spoolFailing atomic.Bool

	lanes     []*lane
	stop      chan struct{}
	flusherWG sync.WaitGroup
	drain     chan struct{}
	abort     context.CancelFunc
	lanesWG   sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New returns a Meter and starts its flusher and one delivery goroutine per sink. With a
// Dir, events spooled by an earlier run are delivered first.
func New(cfg Config) (*Meter, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m := &Meter{
		cfg:       cfg,
		log:       cfg.Logger,
		buf:       make([]Event, 0, cfg.QueueSize),
		spare:     make([]Event, 0, cfg.QueueSize),
		wake:      make(chan struct{}, 1),
		spooledCh: make(chan struct{}),
		stop:      make(chan struct{}),
		drain:     make(chan struct{}),
		recent:    newIDWindow(cfg.IdempotencyWindow, cfg.IdempotencyCapacity),
	}
	sinks := map[string]Sink{}
	for name, s := range cfg.Sinks {
		sinks[name] = s
	}
	if cfg.Sink != nil {
		if _, dup := sinks["default"]; dup {
			return nil, errors.New(`metering: Config.Sink and Config.Sinks["default"] are both set`)
		}
		sinks["default"] = cfg.Sink
	}
	if len(sinks) == 0 {
		storeDir := ""
		if cfg.Dir != "" {
			storeDir = filepath.Join(cfg.Dir, "store")
		}
		st, err := NewStore(StoreConfig{Dir: storeDir, Sync: cfg.Sync})
		if err != nil {
			return nil, err
		}
		m.store = st
		sinks["default"] = st
	}
	names := make([]string, 0, len(sinks))
	for name, s := range sinks {
		if !sinkName.MatchString(name) {
			m.closeOnFailure()
			return nil, fmt.Errorf("metering: sink name %q: use letters, digits, '-', '_' and '.'", name)
		}
		if s == nil {
			m.closeOnFailure()
			return nil, fmt.Errorf("metering: sink %q is nil", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		l := &lane{name: name, sink: sinks[name], wake: make(chan struct{}, 1), m: m}
		if cfg.Dir == "" {
			l.q = newMemQueue(cfg.QueueSize)
		} else {
			sp, err := openSpool(filepath.Join(cfg.Dir, "spool", name), cfg.Sync, cfg.SegmentBytes)
			if err == nil {
				sp.maxBytes = cfg.MaxSpoolBytes
			}
			if err != nil {
				m.closeOnFailure()
				return nil, err
			}
			if sp.corrupt > 0 {
				m.log.Error("metering: spool had corrupt records", slog.String("sink", name), slog.Int("segments", sp.corrupt))
			}
			l.q = &spoolQueue{s: sp, corrupt: func(n int) { m.metrics.corrupted(name, n) }, hotMax: cfg.QueueSize}
		}
		m.lanes = append(m.lanes, l)
	}
	var err error
	if m.metrics, err = newInstruments(cfg.MeterProvider, m); err != nil {
		m.closeOnFailure()
		return nil, err
	}
	abort, cancel := context.WithCancel(context.Background())
	m.abort = cancel
	for _, l := range m.lanes {
		m.lanesWG.Add(1)
		go func() {
			defer m.lanesWG.Done()
			l.run(abort, m.drain)
		}()
	}
	m.flusherWG.Add(1)
	go m.flusher()
	return m, nil
}

func (cfg *Config) defaults() error {
	if cfg.QueueSize < 0 || cfg.BatchSize < 0 || cfg.FlushInterval < 0 || cfg.RetryMin < 0 ||
		cfg.RetryMax < 0 || cfg.WriteTimeout < 0 || cfg.SegmentBytes < 0 || cfg.MaxSpoolBytes < 0 || cfg.IdempotencyCapacity < 0 {
		return errors.New("metering: negative size, count or duration in Config")
	}
	if cfg.Overflow != OverflowSpill && cfg.Overflow != OverflowReject {
		return fmt.Errorf("metering: unknown OverflowPolicy %d", cfg.Overflow)
	}
	if cfg.Sync != SyncBatch && cfg.Sync != SyncNone {
		return fmt.Errorf("metering: unknown SyncPolicy %d", cfg.Sync)
	}
	if cfg.Durable && cfg.Dir == "" {
		return errors.New("metering: Config.Durable needs a Dir to spool to")
	}
	if cfg.MaxSpoolBytes > 0 && cfg.SegmentBytes == 0 {
		cfg.SegmentBytes = min(defaultSegBytes, max(cfg.MaxSpoolBytes/4, 64<<10))
	}
	setDefault(&cfg.QueueSize, 16384)
	setDefault(&cfg.BatchSize, 512)
	setDefault(&cfg.FlushInterval, 200*time.Millisecond)
	setDefault(&cfg.RetryMin, 100*time.Millisecond)
	setDefault(&cfg.RetryMax, 30*time.Second)
	setDefault(&cfg.WriteTimeout, 30*time.Second)
	setDefault(&cfg.IdempotencyWindow, 24*time.Hour)
	setDefault(&cfg.IdempotencyCapacity, 100000)
	setDefault(&cfg.Source, DefaultSource)
	if err := checkString(cfg.Source); err != nil {
		return fmt.Errorf("metering: Config.Source: %w", err)
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = cfg.RetryMin
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return nil
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Record accepts one event for delivery. It never waits for a sink: the event is appended
// to an in-memory queue that the flusher moves to the spool in batches (under
// Config.Durable, Record waits for that write). Consumer, KeyID and Plan default to the
// auth.Principal in ctx, TraceID and SpanID to its span, Time to now and ID to a fresh
// UUIDv7. Cancelling ctx does not affect an accepted event.
//
// A nil error means the event was accepted and will be delivered, and under Durable that
// it is spooled; ErrNotDurable means accepted but not spooled yet. ErrQueueFull means the
// queue was full and the event could not be spilled; ErrClosed means Close was called; an
// error wrapping ErrInvalidEvent means the event breaks a limit DecodeEvent enforces (a
// string over 1024 bytes, not UTF-8 or holding NUL, more than 64 meters, an empty meter
// name, a negative number or a status above 999), which no sink could take back.
func (m *Meter) Record(ctx context.Context, ev Event) error {
	return m.record(ctx, &ev, true)
}

// record is Record; checkUnits is false when the meter names were checked where they were
// declared (the middleware's events). It takes the event by pointer (it does not keep it):
// an Event is about 250 bytes, and each copy of it costs as much as the append.
func (m *Meter) record(ctx context.Context, ev *Event, checkUnits bool) error {
	if ev.Consumer == "" {
		if p := auth.FromContext(ctx); p != nil {
			ev.Consumer, ev.Plan = p.Consumer, p.Plan
			if ev.KeyID == "" {
				ev.KeyID = p.KeyID
			}
		}
	}
	if !ev.TraceID.IsValid() {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			ev.TraceID, ev.SpanID = sc.TraceID(), sc.SpanID()
		}
	}
	if ev.Time.IsZero() {
		ev.Time = m.cfg.Now()
	}
	err := ev.validateAttrs()
	if err == nil && checkUnits {
		err = validUnits(ev.Units)
	}
	if err != nil {
		m.metrics.invalid(1)
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if len(m.buf) >= m.cfg.QueueSize {
		m.mu.Unlock()
		return m.overflow(*ev)
	}
	m.buf = append(m.buf, *ev)
	if m.cfg.Durable {
		seq := m.taken + uint64(len(m.buf))
		m.mu.Unlock()
		m.kick()
		return m.awaitSpooled(seq)
	}
	if len(m.buf) >= m.cfg.BatchSize && !m.signalled {
		// Wake the flusher once per batch, not once per event.
		m.signalled = true
		m.mu.Unlock()
		m.kick()
		return nil
	}
	m.mu.Unlock()
	return nil
}

// awaitSpooled waits until the first seq events ever recorded are in every spool.
func (m *Meter) awaitSpooled(seq uint64) error {
	var timeout <-chan time.Time
	for {
		m.mu.Lock()
		done, ch := m.spooled >= seq, m.spooledCh
		m.mu.Unlock()
		if done {
			return nil
		}
		if timeout == nil {
			t := time.NewTimer(m.cfg.WriteTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
			if m.spoolFailing.Load() {
				// The flush ended without room in a spool: the event waits in memory.
				return ErrNotDurable
			}
		case <-timeout:
			m.log.Error("metering: event accepted but not spooled in time", slog.Duration("timeout", m.cfg.WriteTimeout))
			return ErrNotDurable
		}
	}
}

// overflow handles an event that found the queue full.
func (m *Meter) overflow(ev Event) error {
	if m.cfg.Overflow == OverflowSpill && m.cfg.Dir != "" && !m.spoolFailing.Load() {
		m.flushMu.Lock()
		err := m.deliverToLanes([]Event{ev}) // a fresh slice: deliverToLanes rewrites it
		m.flushMu.Unlock()
		if err == nil || errors.Is(err, errHeld) {
			// Held in a stash, the event will be delivered: refusing it now would make
			// a retrying caller bill twice.
			m.metrics.spilled(1)
			return nil
		}
		m.log.Error("metering: spilling to spool failed", slog.Any("err", err))
	}
	m.metrics.rejected(1)
	return ErrQueueFull
}

// Saturated reports whether the in-memory queue is full and the overflow policy would
// refuse new events. The middleware asks it before running a billable operation under
// OverflowReject.
func (m *Meter) Saturated() bool {
	m.mu.Lock()
	full := len(m.buf) >= m.cfg.QueueSize
	m.mu.Unlock()
	if m.cfg.Durable && m.cfg.Overflow == OverflowReject && m.spoolFailing.Load() {
		return true // nothing can be made durable until the spool takes writes again
	}
	return full && (m.cfg.Overflow == OverflowReject || m.cfg.Dir == "" || m.spoolFailing.Load())
}

// Pending returns the number of events recorded but not yet acknowledged by every sink.
func (m *Meter) Pending() int64 {
	m.mu.Lock()
	n := int64(len(m.buf))
	m.mu.Unlock()
	var most int64
	for _, l := range m.lanes {
		most = max(most, l.q.pending())
	}
	return n + most
}

// Usage returns the default Store's reader when the Meter was built without a Sink, or
// nil. Services that configure sinks query their own store (a Store, pgsink).
func (m *Meter) Usage() UsageReader {
	if m.store == nil {
		return nil
	}
	return m.store
}
