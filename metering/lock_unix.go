//go:build unix

package metering

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive, non-blocking flock on dir/lock, so two Meters (in one
// process or two) cannot append to and delete segments of the same spool. The kernel
// releases the lock when the process dies, so a crash never leaves the spool locked.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("metering: spool lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("metering: spool %s is in use by another Meter (each needs its own Dir)", dir)
		}
		return nil, fmt.Errorf("metering: spool lock: %w", err)
	}
	return f, nil
}
