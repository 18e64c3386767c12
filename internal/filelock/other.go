//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package filelock

import "os"

// Lock is a no-op where flock(2) is unavailable; one process per file is then the
// operator's responsibility.
func Lock(*os.File) error { return nil }
