package auth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tollgate-dev/tollgate/internal/filelock"
)

// FileKeyStore is a durable key store in one file, for local development and single-node
// services that have no database. Keys live in a [MemoryKeyStore]; every change is appended
// to a journal of JSON lines and synced to disk (fsync) before it becomes visible, and the
// journal is replayed when the store is opened, so a key that was issued survives a crash.
//
// A record torn by a crash mid-write is the last line of the journal; it is dropped on open,
// which is correct because its change was never acknowledged. The journal is compacted on
// open when superseded records outnumber live keys.
//
// One process at a time may open a journal: a second open fails while the first holds the
// lock file beside it (path + ".lock", an flock(2) released by the kernel if the process
// dies). The files are created with mode 0600: the journal holds only digests, but also
// consumer ids and metadata.
type FileKeyStore struct {
	mem  MemoryKeyStore
	path string

	mu     sync.Mutex // serialises journal appends
	f      *os.File
	lock   *os.File
	closed bool
	broken error // a failed append may have left a partial record: refuse further writes

	syncDir func(dir string) error // makes directory entries durable; swapped in tests
}

var (
	_ KeyStore  = (*FileKeyStore)(nil)
	_ KeyWriter = (*FileKeyStore)(nil)
	_ KeyLister = (*FileKeyStore)(nil)
)

// OpenFileKeyStore opens (creating when absent) the journal at path and replays it.
func OpenFileKeyStore(path string) (*FileKeyStore, error) {
	return openFileKeyStore(path, syncDir)
}

func openFileKeyStore(path string, syncDir func(string) error) (*FileKeyStore, error) {
	if path == "" {
		return nil, errors.New("auth: FileKeyStore path is empty")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("auth: key store directory: %w", err)
	}
	lock, err := filelock.Acquire(path)
	if errors.Is(err, filelock.ErrLocked) {
		return nil, fmt.Errorf("auth: key journal %s is open in another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: key journal lock: %w", err)
	}
	s := &FileKeyStore{path: path, lock: lock, syncDir: syncDir}
	if err := s.open(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	return s, nil
}

func (s *FileKeyStore) open() error {
	records, err := s.replay()
	if err != nil {
		return err
	}
	if records > 2*len(s.mem.keys)+16 {
		if err := s.compact(); err != nil {
			return err
		}
	}
	_, err = os.Stat(s.path)
	created := errors.Is(err, os.ErrNotExist)
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("auth: open key journal: %w", err)
	}
	if created {
		// Appends sync the file's data, but a new file's name lives in its directory: sync
		// that too, or a crash could lose the whole journal and every key acknowledged in it.
		if err := s.syncDir(filepath.Dir(s.path)); err != nil {
			_ = f.Close()
			return fmt.Errorf("auth: sync key journal directory: %w", err)
		}
	}
	s.f = f
	return nil
}

// replay loads the journal into memory and truncates a torn last record.
func (s *FileKeyStore) replay() (records int, err error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("auth: read key journal: %w", err)
	}
	s.mem.keys = make(map[string]StoredKey)
	good := 0
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			break // torn final record: never acknowledged
		}
		line := data[off : off+end]
		var k StoredKey
		if err := json.Unmarshal(line, &k); err != nil || k.ID == "" {
			return 0, fmt.Errorf("auth: key journal %s: corrupt record at byte %d", s.path, off)
		}
		s.mem.keys[k.ID] = k
		records++
		off += end + 1
		good = off
	}
	if good < len(data) {
		if err := os.Truncate(s.path, int64(good)); err != nil {
			return 0, fmt.Errorf("auth: truncate torn key journal record: %w", err)
		}
	}
	return records, nil
}

// compact rewrites the journal with one record per key: to a temporary file, synced, then
// renamed over the journal, and the directory synced so the rename itself is durable.
func (s *FileKeyStore) compact() error {
	tmp := s.path + ".compact"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("auth: compact key journal: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, k := range s.mem.keys {
		if err = writeRecord(w, k); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err == nil {
		err = s.syncDir(filepath.Dir(s.path))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("auth: compact key journal: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func writeRecord(w interface{ Write([]byte) (int, error) }, k StoredKey) error {
	b, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("auth: encode key record: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// append journals k durably; it runs under the memory store's lock, so journal order is
// the order in which changes become visible.
func (s *FileKeyStore) append(k StoredKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("auth: key store is closed")
	}
	if s.broken != nil {
		return s.broken
	}
	err := writeRecord(s.f, k)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		s.broken = fmt.Errorf("auth: key journal %s unwritable, reopen the store: %w", s.path, err)
		return s.broken
	}
	return nil
}

// Key implements [KeyStore].
func (s *FileKeyStore) Key(ctx context.Context, id string) (StoredKey, error) {
	return s.mem.Key(ctx, id)
}

// CreateKey implements [KeyWriter]; it returns once the key is on disk.
func (s *FileKeyStore) CreateKey(ctx context.Context, k StoredKey) error {
	return s.mem.create(ctx, k, s.append)
}

// UpdateKey implements [KeyWriter]; it returns once the change is on disk.
func (s *FileKeyStore) UpdateKey(ctx context.Context, id string, update func(*StoredKey) error) error {
	return s.mem.update(ctx, id, update, s.append)
}

// ListKeys implements [KeyLister].
func (s *FileKeyStore) ListKeys(ctx context.Context, consumer string) ([]StoredKey, error) {
	return s.mem.ListKeys(ctx, consumer)
}

// Close closes the journal. Reads keep working from memory; writes fail.
func (s *FileKeyStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.f.Close()
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	return err
}
