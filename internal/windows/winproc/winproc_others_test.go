//go:build !windows

package winproc

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

func TestNotSupported(t *testing.T) {
	if _, err := List(); !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), runtime.GOOS) {
		t.Errorf("List() = %v; want ErrNotSupported naming %s", err, runtime.GOOS)
	}
	if _, err := CreationTime(1); !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), runtime.GOOS) {
		t.Errorf("CreationTime(1) = %v; want ErrNotSupported naming %s", err, runtime.GOOS)
	}
	p := Details(42, nil)
	if p.PID != 42 || len(p.Unreadable) != 1 || !strings.Contains(p.Unreadable[0], runtime.GOOS) {
		t.Errorf("Details(42, nil) = %+v; want PID 42 and the reason in Unreadable", p)
	}
}
