//go:build !windows

package iphlpapi

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

func TestNotSupported(t *testing.T) {
	if rows, err := Get(TCP4, OwnerModuleAll); !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), runtime.GOOS) || rows != nil {
		t.Errorf("Get(tcp4, owner-module-all) = %v, %v; want an error wrapping ErrNotSupported that names %s", rows, err, runtime.GOOS)
	}
	if _, _, err := OwnerModule(&Row{PID: 100}); !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), runtime.GOOS) {
		t.Errorf("OwnerModule = %v; want an error wrapping ErrNotSupported that names %s", err, runtime.GOOS)
	}
}
