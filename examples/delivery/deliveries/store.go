package deliveries

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrNotFound means no delivery with that id is visible to the caller.
var ErrNotFound = errors.New("deliveries: not found")

// ErrConflict means the delivery is not in a state that allows the change.
var ErrConflict = errors.New("deliveries: conflict")

// Store keeps deliveries per owner (the consumer that created them). Each owner sees only
// its own deliveries.
type Store struct {
	now func() time.Time
	mu  sync.RWMutex
	// by owner, then id; order keeps creation order per owner for stable pagination.
	items map[string]map[string]*Delivery
	order map[string][]string
}

// NewStore returns an empty in-memory store. now may be nil for time.Now.
func NewStore(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, items: map[string]map[string]*Delivery{}, order: map[string][]string{}}
}

// Create stores d for owner with a new id and returns the stored copy.
func (s *Store) Create(_ context.Context, owner string, d Delivery) (Delivery, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Delivery{}, err
	}
	d.ID = "dlv_" + hex.EncodeToString(b[:])
	d.Status = StatusCreated
	d.CreatedAt = s.now().UTC()
	d.Items = slices.Clone(d.Items)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.items[owner] == nil {
		s.items[owner] = map[string]*Delivery{}
	}
	s.items[owner][d.ID] = &d
	s.order[owner] = append(s.order[owner], d.ID)
	return d, nil
}

// Get returns the owner's delivery with id.
func (s *Store) Get(_ context.Context, owner, id string) (Delivery, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.items[owner][id]
	if !ok {
		return Delivery{}, ErrNotFound
	}
	return *d, nil
}

// Confirm records that the recipient received the delivery.
func (s *Store) Confirm(_ context.Context, owner, id, by string) (Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.items[owner][id]
	if !ok {
		return Delivery{}, ErrNotFound
	}
	switch d.Status {
	case StatusConfirmed:
		return *d, nil // confirming twice is harmless
	case StatusCancelled:
		return Delivery{}, ErrConflict
	}
	t := s.now().UTC()
	d.Status, d.ConfirmedAt, d.ConfirmedBy = StatusConfirmed, &t, by
	return *d, nil
}

// List returns up to limit of the owner's deliveries created after the one with id after
// (all from the start when after is empty), and the cursor for the next page ("" at the end).
func (s *Store) List(_ context.Context, owner, after string, limit int, status Status) ([]Delivery, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.order[owner]
	start := 0
	if after != "" {
		i := slices.Index(ids, after)
		if i < 0 {
			return nil, ""
		}
		start = i + 1
	}
	out := make([]Delivery, 0, min(limit, len(ids)-start))
	next := ""
	for _, id := range ids[start:] {
		d := s.items[owner][id]
		if status != "" && !strings.EqualFold(string(d.Status), string(status)) {
			continue
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			break
		}
		out = append(out, *d)
	}
	return out, next
}
