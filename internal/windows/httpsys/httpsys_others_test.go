//go:build !windows

package httpsys

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// Off Windows every call says so, naming the operating system.
func TestNotSupported(t *testing.T) {
	calls := map[string]func() error{
		"ServiceState": func() error { _, err := ServiceState(context.Background()); return err },
		"URLACLs":      func() error { _, err := URLACLs(); return err },
		"SSLCerts":     func() error { _, err := SSLCerts(); return err },
		"IPListen":     func() error { _, err := IPListen(); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), runtime.GOOS) {
				t.Errorf("%s() = %v; want an error wrapping ErrNotSupported that names %s", name, err, runtime.GOOS)
			}
		})
	}
}
