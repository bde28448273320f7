//go:build !linux && !windows

package engine

// No backend on this operating system yet: newSource stays nil and New
// returns an error wrapping ErrNotSupported.
