//go:build !windows

package wine

// Detected reports whether this process runs under Wine; never, on this
// operating system.
func Detected() bool { return false }
