//go:build !windows

package wintest

import (
	"fmt"
	"runtime"
	"testing"
)

// ServeIfService returns at once: no process is a Windows service here.
func ServeIfService() {}

// InstallService skips the test: there are no Windows services on this
// operating system.
func InstallService(t testing.TB, name, addr string) (pid int) {
	t.Helper()
	t.Skip(fmt.Errorf("installing service %s on %s: %w", name, runtime.GOOS, ErrNotSupported))
	return 0
}

// RegisterURL skips the test: there is no http.sys on this operating
// system. (The Windows version is in httpapi_windows.go.)
func RegisterURL(t testing.TB, url string) {
	t.Helper()
	t.Skip(fmt.Errorf("registering %s with http.sys on %s: %w", url, runtime.GOOS, ErrNotSupported))
}
