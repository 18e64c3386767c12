package billing

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tollgate-dev/tollgate/internal/filelock"
)

// FileStore is a [MemoryStore] whose every change is appended to a journal of JSON lines
// and synced to disk (fsync) before it is acknowledged; opening the store replays the
// journal. It is the durable default for local use and single-node services (the example
// keeps it in DATA_DIR). Only plans, subscriptions and finalised invoices are written:
// drafts are computed, so the journal grows with plan changes and invoices, not traffic.
//
// A record torn by a crash mid-write is the journal's last line and is dropped on open: its
// change was never acknowledged. One process at a time may open a journal (an flock(2) on
// path + ".lock", released by the kernel if the process dies).
type FileStore struct {
	*MemoryStore
	mu     sync.Mutex // serialises appends
	f      *os.File
	lock   *os.File
	broken error // a failed append may have left a partial record: refuse further writes
}

var _ Store = (*FileStore)(nil)

// OpenFileStore opens, creating when absent, the journal at path and replays it.
func OpenFileStore(path string) (*FileStore, error) {
	if path == "" {
		return nil, errors.New("billing: FileStore path is empty")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("billing: store directory: %w", err)
	}
	lock, err := filelock.Acquire(path)
	if errors.Is(err, filelock.ErrLocked) {
		return nil, fmt.Errorf("billing: journal %s is open in another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("billing: journal lock: %w", err)
	}
	s := &FileStore{MemoryStore: NewMemoryStore(), lock: lock}
	if err := s.replay(path); err != nil {
		_ = lock.Close()
		return nil, err
	}
	s.MemoryStore.onChange = s.append
	return s, nil
}

func (s *FileStore) replay(path string) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("billing: read journal: %w", err)
	}
	good := 0 // bytes of whole, valid records
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var c change
		if err := json.Unmarshal(line, &c); err != nil || (c.Plan == nil && c.Subscription == nil && c.Invoice == nil) {
			if good+len(line) >= len(data)-1 { // the torn last record of a crash
				break
			}
			return fmt.Errorf("billing: journal %s is corrupt at byte %d", path, good)
		}
		s.MemoryStore.apply(c)
		good += len(line) + 1
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("billing: read journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("billing: open journal: %w", err)
	}
	if data == nil { // a new journal: make its directory entry durable too
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			_ = d.Sync()
			_ = d.Close()
		}
	}
	if err := f.Truncate(int64(good)); err != nil {
		_ = f.Close()
		return fmt.Errorf("billing: drop torn record: %w", err)
	}
	if _, err := f.Seek(int64(good), 0); err != nil {
		_ = f.Close()
		return err
	}
	s.f = f
	return nil
}

// append writes one change and syncs it; it runs under the MemoryStore's lock, so the
// change becomes visible only once it is durable.
func (s *FileStore) append(c change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	if s.f == nil {
		return errors.New("billing: store is closed")
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		s.broken = fmt.Errorf("billing: journal write failed, reopen the store: %w", err)
		return s.broken
	}
	if err := s.f.Sync(); err != nil {
		s.broken = fmt.Errorf("billing: journal sync failed, reopen the store: %w", err)
		return s.broken
	}
	return nil
}

// Close closes the journal and releases its lock.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.f != nil {
		err = s.f.Close()
		s.f = nil
	}
	if s.lock != nil {
		err = errors.Join(err, s.lock.Close())
		s.lock = nil
	}
	return err
}
