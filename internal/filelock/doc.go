// Package filelock keeps a journal file to one process at a time with flock(2).
package filelock

import (
	"errors"
	"os"
)

// ErrLocked reports that another process holds the lock.
var ErrLocked = errors.New("locked")

// Acquire creates (mode 0600) and locks path + ".lock" beside a journal at path; the
// returned file holds the lock until it is closed. A lock held by another process is
// [ErrLocked].
func Acquire(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := Lock(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}
