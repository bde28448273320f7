//go:build !windows

package httpsys

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
)

func notSupported(what string) error {
	return fmt.Errorf("%s: http.sys exists only on Windows, not on %s: %w", what, runtime.GOOS, ErrNotSupported)
}

// ServiceState tries the IOCTL (needs elevation), then netsh; on this
// operating system there is neither.
func ServiceState(ctx context.Context) (*State, error) {
	return nil, notSupported("http.sys service state")
}

// URLACLs lists the URL reservations; Windows only.
func URLACLs() ([]URLACL, error) { return nil, notSupported("http.sys URL reservations") }

// SSLCerts lists the certificate bindings; Windows only.
func SSLCerts() ([]SSLCert, error) { return nil, notSupported("http.sys certificate bindings") }

// IPListen lists the addresses http.sys binds; Windows only.
func IPListen() ([]netip.Addr, error) { return nil, notSupported("http.sys IP listen list") }
