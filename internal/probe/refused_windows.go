package probe

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isRefused reports whether a dial failed because nothing listens:
// Winsock reports WSAECONNREFUSED (10061), which syscall.ECONNREFUSED,
// an invented errno on Windows, does not match.
func isRefused(err error) bool { return errors.Is(err, windows.WSAECONNREFUSED) }
