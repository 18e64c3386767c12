// Package journal is an append-only file of JSON lines, synced on every append, for the
// file-backed stores: what Append acknowledged survives a crash, and a record torn by a
// crash mid-write (the last line) is dropped when the journal is opened again.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Journal appends records to one file. It is safe for concurrent use.
type Journal struct {
	path   string
	mu     sync.Mutex
	f      *os.File
	broken error // a failed append may have left a partial record: refuse further ones
}

// Open replays the journal at path (creating it when absent), calling apply with each
// record in order, and opens it for appending. apply returning an error, or a malformed
// record before the last line, fails Open: silently skipping a record would lose data.
func Open(path string, apply func(line []byte) error) (*Journal, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	good := 0 // bytes of whole, applied records
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if err := validRecord(line, apply); err != nil {
			if good+len(line) >= len(data)-1 { // the torn last record of a crash
				break
			}
			return nil, fmt.Errorf("%s is corrupt at byte %d: %w", path, good, err)
		}
		good += len(line) + 1
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if data == nil {
		syncDir(path)
	}
	if err := f.Truncate(int64(good)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("drop torn record: %w", err)
	}
	if _, err := f.Seek(int64(good), 0); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &Journal{path: path, f: f}, nil
}

func validRecord(line []byte, apply func([]byte) error) error {
	if !json.Valid(line) {
		return errors.New("not a JSON record")
	}
	return apply(line)
}

// Append writes v as one JSON line and syncs it; nil means it is on disk.
func (j *Journal) Append(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.broken != nil {
		return j.broken
	}
	if j.f == nil {
		return errors.New("journal is closed")
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		j.broken = fmt.Errorf("journal write failed, reopen it: %w", err)
		return j.broken
	}
	if err := j.f.Sync(); err != nil {
		j.broken = fmt.Errorf("journal sync failed, reopen it: %w", err)
		return j.broken
	}
	return nil
}

// Rewrite replaces the journal's content with records, atomically (a synced temporary file
// renamed over it), to compact away what later records superseded.
func (j *Journal) Rewrite(records []any) error {
	var buf bytes.Buffer
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return err
	}
	syncDir(j.path)
	nf, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		j.broken = err
		return err
	}
	_ = j.f.Close()
	j.f, j.broken = nf, nil
	return nil
}

// Close closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// syncDir makes a new directory entry durable; best effort, as not every system allows it.
func syncDir(path string) {
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
