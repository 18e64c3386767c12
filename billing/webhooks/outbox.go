package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/clients"
	"github.com/tollgate-dev/tollgate/internal/filelock"
	"github.com/tollgate-dev/tollgate/internal/journal"
)

// Endpoint is a receiver of billing events.
type Endpoint struct {
	// URL receives a POST per event; https in production.
	URL string
	// Secret signs the requests.
	Secret Secret
}

// OutboxConfig configures an [Outbox].
type OutboxConfig struct {
	// Dir holds the outbox journal; required, since an outbox that forgets across a restart
	// loses events.
	Dir string
	// Endpoints receive every event; at least one.
	Endpoints []Endpoint
	// Client sends the requests; nil means a clients.Client with the SSRF Guard on (no
	// loopback, private or metadata addresses), retries within a delivery keyed on the
	// webhook-id, a circuit breaker per host and a 10-second timeout.
	Client *http.Client
	// RetryBase is the wait after a first failed delivery, doubled after each further
	// failure up to RetryMax (with jitter); zero means 5 seconds and 1 hour.
	RetryBase, RetryMax time.Duration
	// MaxAge is how long an event is retried before it is given up and logged as an
	// error; zero means 72 hours.
	MaxAge time.Duration
	// Logger receives delivery failures; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Outbox is a durable [billing.Notifier] that delivers events as Standard Webhooks. Notify
// appends the event to a journal and syncs it (fsync) before returning, so an accepted event
// survives a crash; [Outbox.Run] (or [Outbox.Deliver], one pass) sends it to every endpoint,
// signed, and records each success, retrying failures with backoff. After a restart the
// journal is replayed and whatever was not acknowledged is sent again: receivers see an
// event at least once and deduplicate on its webhook-id, which is the event id.
type Outbox struct {
	cfg    OutboxConfig
	client *http.Client
	own    *clients.Client
	now    func() time.Time
	log    *slog.Logger
	wake   chan struct{}

	mu      sync.Mutex
	j       *journal.Journal
	lock    *os.File
	pending map[delivery]*attempt
	events  map[string]billing.Event
}

type delivery struct {
	event    string
	endpoint int
}

type attempt struct {
	failures int
	next     time.Time
}

// record is one journal line.
type record struct {
	Event *billing.Event `json:"event,omitempty"`
	Done  *doneRecord    `json:"done,omitempty"`
}

type doneRecord struct {
	Event    string `json:"event"`
	Endpoint string `json:"endpoint"`
	GaveUp   bool   `json:"gave_up,omitempty"`
}

var _ billing.Notifier = (*Outbox)(nil)

// OpenOutbox opens the journal under cfg.Dir and replays it.
func OpenOutbox(cfg OutboxConfig) (*Outbox, error) {
	if cfg.Dir == "" {
		return nil, errors.New("webhooks: OutboxConfig.Dir is required")
	}
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("webhooks: an outbox needs at least one endpoint")
	}
	for _, e := range cfg.Endpoints {
		if e.URL == "" || e.Secret.IsZero() {
			return nil, fmt.Errorf("webhooks: endpoint %q needs a URL and a secret", e.URL)
		}
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Hour
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 72 * time.Hour
	}
	o := &Outbox{cfg: cfg, client: cfg.Client, now: cfg.Now, log: cfg.Logger, wake: make(chan struct{}, 1),
		pending: map[delivery]*attempt{}, events: map[string]billing.Event{}}
	if o.now == nil {
		o.now = time.Now
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.client == nil {
		c, err := clients.New(clients.Config{
			Name: "webhooks", Guard: &clients.Guard{}, Timeout: 10 * time.Second,
			Retry: clients.RetryConfig{IdempotencyHeader: HeaderID},
		})
		if err != nil {
			return nil, err
		}
		o.own, o.client = c, c.HTTPClient()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("webhooks: outbox directory: %w", err)
	}
	path := filepath.Join(cfg.Dir, "outbox.jsonl")
	lock, err := filelock.Acquire(path)
	if errors.Is(err, filelock.ErrLocked) {
		return nil, fmt.Errorf("webhooks: outbox %s is open in another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("webhooks: outbox lock: %w", err)
	}
	o.lock = lock
	if err := o.replay(path); err != nil {
		_ = lock.Close()
		return nil, err
	}
	return o, nil
}

func (o *Outbox) endpointIndex(url string) int {
	for i, e := range o.cfg.Endpoints {
		if e.URL == url {
			return i
		}
	}
	return -1
}

func (o *Outbox) replay(path string) error {
	j, err := journal.Open(path, func(line []byte) error {
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		if r.Event == nil && r.Done == nil {
			return errors.New("empty record")
		}
		o.apply(r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("webhooks: outbox: %w", err)
	}
	o.j = j
	// Rewrite the journal with only what is still owed, so it does not grow without bound.
	var records []any
	owed := map[string]bool{}
	for d := range o.pending {
		owed[d.event] = true
	}
	for id := range owed {
		e := o.events[id]
		records = append(records, record{Event: &e})
		for i, ep := range o.cfg.Endpoints {
			if _, still := o.pending[delivery{id, i}]; !still {
				records = append(records, record{Done: &doneRecord{Event: id, Endpoint: ep.URL}})
			}
		}
	}
	for id := range o.events {
		if !owed[id] {
			delete(o.events, id)
		}
	}
	if err := j.Rewrite(records); err != nil {
		_ = j.Close()
		return fmt.Errorf("webhooks: compact outbox: %w", err)
	}
	return nil
}

func (o *Outbox) apply(r record) {
	switch {
	case r.Event != nil:
		if _, seen := o.events[r.Event.ID]; seen {
			return
		}
		o.events[r.Event.ID] = *r.Event
		for i := range o.cfg.Endpoints {
			o.pending[delivery{r.Event.ID, i}] = &attempt{}
		}
	case r.Done != nil:
		if i := o.endpointIndex(r.Done.Endpoint); i >= 0 {
			delete(o.pending, delivery{r.Done.Event, i})
		}
	}
}

func (o *Outbox) append(r record) error { return o.j.Append(r) }

// Notify implements billing.Notifier: the event is on disk when it returns nil. An event
// id seen before is accepted again without a second delivery.
func (o *Outbox) Notify(_ context.Context, e billing.Event) error {
	if e.ID == "" || e.Type == "" {
		return errors.New("webhooks: an event needs an id and a type")
	}
	o.mu.Lock()
	if _, seen := o.events[e.ID]; seen {
		o.mu.Unlock()
		return nil
	}
	if err := o.append(record{Event: &e}); err != nil {
		o.mu.Unlock()
		return err
	}
	o.apply(record{Event: &e})
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Pending returns the number of deliveries not yet acknowledged.
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

// Run delivers events until ctx is done: at once when one is notified, and when the next
// retry falls due.
func (o *Outbox) Run(ctx context.Context) error {
	for {
		next, err := o.Deliver(ctx)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		wait := time.Minute
		if !next.IsZero() {
			wait = max(next.Sub(o.now()), 10*time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-o.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Deliver makes one pass: every delivery that is due is attempted once. It returns when
// the next retry falls due (zero when nothing is pending) and the first journal error.
func (o *Outbox) Deliver(ctx context.Context) (next time.Time, err error) {
	now := o.now()
	o.mu.Lock()
	var due []delivery
	for d, a := range o.pending {
		if !a.next.After(now) {
			due = append(due, d)
		}
	}
	o.mu.Unlock()
	for _, d := range due {
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		o.mu.Lock()
		e, ok := o.events[d.event]
		o.mu.Unlock()
		if !ok {
			continue
		}
		sendErr := o.send(ctx, e, o.cfg.Endpoints[d.endpoint])
		o.mu.Lock()
		a := o.pending[d]
		switch {
		case a == nil:
		case sendErr == nil:
			if jerr := o.append(record{Done: &doneRecord{Event: e.ID, Endpoint: o.cfg.Endpoints[d.endpoint].URL}}); jerr != nil {
				err = errors.Join(err, jerr)
			} else {
				delete(o.pending, d)
			}
		case o.now().Sub(e.Time) > o.cfg.MaxAge:
			o.log.Error("webhooks: giving up on an event", "event", e.ID, "type", e.Type, "endpoint", o.cfg.Endpoints[d.endpoint].URL, "error", sendErr)
			if jerr := o.append(record{Done: &doneRecord{Event: e.ID, Endpoint: o.cfg.Endpoints[d.endpoint].URL, GaveUp: true}}); jerr != nil {
				err = errors.Join(err, jerr)
			} else {
				delete(o.pending, d)
			}
		default:
			a.failures++
			wait := min(o.cfg.RetryBase<<min(a.failures-1, 20), o.cfg.RetryMax)
			a.next = o.now().Add(wait/2 + rand.N(wait/2+1)) // half fixed, half jitter
			o.log.Warn("webhooks: delivery failed, will retry", "event", e.ID, "endpoint", o.cfg.Endpoints[d.endpoint].URL, "failures", a.failures, "error", sendErr)
		}
		o.mu.Unlock()
	}
	o.mu.Lock()
	for _, a := range o.pending {
		if next.IsZero() || a.next.Before(next) {
			next = a.next
		}
	}
	o.mu.Unlock()
	return next, err
}

// payload is the Standard Webhooks body: type, timestamp and data.
type payload struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Consumer  string          `json:"consumer,omitempty"`
	Data      json.RawMessage `json:"data"`
}

func (o *Outbox) send(ctx context.Context, e billing.Event, ep Endpoint) error {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	body, err := json.Marshal(payload{Type: e.Type, Timestamp: e.Time, Consumer: e.Consumer, Data: data})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	ep.Secret.SetHeaders(req.Header, e.ID, o.now(), body)
	resp, err := o.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("endpoint answered %s", resp.Status)
	}
	return nil
}

// Close closes the journal. Pending deliveries stay in it for the next open.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.j.Close()
	if o.own != nil {
		err = errors.Join(err, o.own.Close())
		o.own = nil
	}
	if o.lock != nil {
		err = errors.Join(err, o.lock.Close())
		o.lock = nil
	}
	return err
}
