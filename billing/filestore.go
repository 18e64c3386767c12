package billing

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/internal/filelock"
	"github.com/tollgate-dev/tollgate/internal/journal"
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
	j    *journal.Journal
	lock *os.File
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
	s.j, err = journal.Open(path, func(line []byte) error {
		var c change
		if err := json.Unmarshal(line, &c); err != nil {
			return err
		}
		if c.Plan == nil && c.Subscription == nil && c.Invoice == nil {
			return errors.New("empty change")
		}
		s.MemoryStore.apply(c)
		return nil
	})
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("billing: %w", err)
	}
	// Changes are journalled under the MemoryStore's lock, so one becomes visible only once
	// it is durable.
	s.MemoryStore.onChange = func(c change) error { return s.j.Append(c) }
	return s, nil
}

// Close closes the journal and releases its lock.
func (s *FileStore) Close() error {
	return errors.Join(s.j.Close(), s.lock.Close())
}
