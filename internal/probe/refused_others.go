//go:build !windows

package probe

import (
	"errors"
	"syscall"
)

// isRefused reports whether a dial failed because nothing listens: the
// host answered the SYN with a reset.
func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
