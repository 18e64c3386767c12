//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package auth

import "os"

// lockFile is a no-op where flock(2) is unavailable; one process per journal is then the
// operator's responsibility.
func lockFile(*os.File) error { return nil }
