//go:build !windows

package iphlpapi

import (
	"fmt"
	"runtime"
)

// Get reads table t in class c; Windows only. Here it returns an error
// wrapping ErrNotSupported.
func Get(t Table, c Class) ([]Row, error) {
	return nil, fmt.Errorf("reading the %s socket table: %w on %s", t, ErrNotSupported, runtime.GOOS)
}

// OwnerModule names the module that owns r's socket; Windows only. Here it
// returns an error wrapping ErrNotSupported.
func OwnerModule(r *Row) (name, path string, err error) {
	return "", "", fmt.Errorf("looking up the owning module of a socket: %w on %s", ErrNotSupported, runtime.GOOS)
}
