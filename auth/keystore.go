package auth

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
)

// StoredKey is what a [KeyStore] keeps for one API key. It holds a keyed digest of the
// secret, never the secret.
type StoredKey struct {
	// ID is the public key id, the third part of the key.
	ID string `json:"id"`
	// Digest is HMAC-SHA256 of the key id and secret under the server secret.
	Digest []byte `json:"digest"`
	// Hint is the key's prefix, id and last four characters, for display.
	Hint string `json:"hint,omitempty"`
	// Consumer, Tenant and Plan are copied to the [Principal].
	Consumer string `json:"consumer"`
	Tenant   string `json:"tenant,omitempty"`
	Plan     string `json:"plan,omitempty"`
	// Scopes the key grants.
	Scopes []string `json:"scopes,omitempty"`
	// Metadata is application data returned in [Principal.Metadata].
	Metadata map[string]string `json:"metadata,omitempty"`
	// Created is when the key was issued.
	Created time.Time `json:"created"`
	// Expires is when the key stops working; zero means never. Rotation sets it to the end
	// of the grace period.
	Expires time.Time `json:"expires,omitzero"`
	// Revoked is when the key was revoked; zero means it was not.
	Revoked time.Time `json:"revoked,omitzero"`
	// Disabled suspends the key without revoking it.
	Disabled bool `json:"disabled,omitempty"`
	// ReplacedBy is the id of the key that replaced this one on rotation.
	ReplacedBy string `json:"replaced_by,omitempty"`
}

// Clone returns a deep copy, so a store never shares slices or maps with its callers.
func (k StoredKey) Clone() StoredKey {
	k.Digest = slices.Clone(k.Digest)
	k.Scopes = slices.Clone(k.Scopes)
	k.Metadata = maps.Clone(k.Metadata)
	return k
}

var (
	errKeyRevoked  = errors.New("API key revoked")
	errKeyExpired  = errors.New("API key expired")
	errKeyDisabled = errors.New("API key disabled")
)

// usable reports why k cannot authenticate a request at now, or nil.
func (k *StoredKey) usable(now time.Time) error {
	switch {
	case k.Disabled:
		return errKeyDisabled
	case !k.Revoked.IsZero() && !now.Before(k.Revoked):
		return errKeyRevoked
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return errKeyExpired
	}
	return nil
}

// KeyStore looks API keys up by their public id. It is the port a key backend implements;
// [MemoryKeyStore], [FileKeyStore] and auth/pgkeystore are provided, and
// auth/authtest.RunKeyStore checks an implementation.
type KeyStore interface {
	// Key returns the key with id. A missing key is ErrKeyNotFound (wrapped or not); any
	// other error means the store could not answer, and the request is refused with 503
	// rather than 401. A cancelled ctx returns ctx.Err().
	Key(ctx context.Context, id string) (StoredKey, error)
}

// KeyWriter is implemented by stores that can issue, rotate and revoke keys. [Keys]
// discovers it by type assertion; a read-only store (keys managed elsewhere) need not
// implement it.
type KeyWriter interface {
	// CreateKey stores a new key; ErrKeyExists when the id is taken.
	CreateKey(ctx context.Context, k StoredKey) error
	// UpdateKey atomically reads the key with id, applies update and stores the result;
	// ErrKeyNotFound when there is no such key. When update returns an error nothing is
	// written and that error is returned. update must not change the id.
	UpdateKey(ctx context.Context, id string, update func(*StoredKey) error) error
}

// KeyLister is implemented by stores that can list a consumer's keys.
type KeyLister interface {
	// ListKeys returns the keys of consumer, oldest first.
	ListKeys(ctx context.Context, consumer string) ([]StoredKey, error)
}

// MemoryKeyStore keeps keys in process memory. It is the default store, fits tests and
// single-process services whose keys are created at start-up, and is the index that
// [FileKeyStore] journals. The zero value is ready to use.
type MemoryKeyStore struct {
	mu   sync.RWMutex
	keys map[string]StoredKey
}

var (
	_ KeyStore  = (*MemoryKeyStore)(nil)
	_ KeyWriter = (*MemoryKeyStore)(nil)
	_ KeyLister = (*MemoryKeyStore)(nil)
)

// NewMemoryKeyStore returns an empty in-process store.
func NewMemoryKeyStore() *MemoryKeyStore { return &MemoryKeyStore{} }

// Key implements [KeyStore].
func (s *MemoryKeyStore) Key(ctx context.Context, id string) (StoredKey, error) {
	if err := ctx.Err(); err != nil {
		return StoredKey{}, err
	}
	s.mu.RLock()
	k, ok := s.keys[id]
	s.mu.RUnlock()
	if !ok {
		return StoredKey{}, ErrKeyNotFound
	}
	return k.Clone(), nil
}

// CreateKey implements [KeyWriter].
func (s *MemoryKeyStore) CreateKey(ctx context.Context, k StoredKey) error {
	return s.create(ctx, k, nil)
}

// create stores k, calling commit (when not nil) under the lock before the change becomes
// visible; FileKeyStore journals there.
func (s *MemoryKeyStore) create(ctx context.Context, k StoredKey, commit func(StoredKey) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if k.ID == "" {
		return errors.New("auth: key id is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return ErrKeyExists
	}
	k = k.Clone()
	if commit != nil {
		if err := commit(k); err != nil {
			return err
		}
	}
	if s.keys == nil {
		s.keys = make(map[string]StoredKey)
	}
	s.keys[k.ID] = k
	return nil
}

// UpdateKey implements [KeyWriter].
func (s *MemoryKeyStore) UpdateKey(ctx context.Context, id string, update func(*StoredKey) error) error {
	return s.update(ctx, id, update, nil)
}

func (s *MemoryKeyStore) update(ctx context.Context, id string, update func(*StoredKey) error, commit func(StoredKey) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return ErrKeyNotFound
	}
	k = k.Clone()
	if err := update(&k); err != nil {
		return err
	}
	if k.ID != id {
		return errors.New("auth: UpdateKey must not change the key id")
	}
	if commit != nil {
		if err := commit(k); err != nil {
			return err
		}
	}
	s.keys[id] = k
	return nil
}

// ListKeys implements [KeyLister].
func (s *MemoryKeyStore) ListKeys(ctx context.Context, consumer string) ([]StoredKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []StoredKey
	for _, k := range s.keys {
		if k.Consumer == consumer {
			out = append(out, k.Clone())
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b StoredKey) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}
