//go:build !windows

package wine

import "syscall"

// Detected reports whether this process runs under Wine; never, on this
// operating system.
func Detected() bool { return false }

// Touch does nothing outside Windows; tests that run everywhere call it
// after Listen so that Wine names their listener's owner.
func Touch(syscall.Conn) error { return nil }
