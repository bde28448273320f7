//go:build !windows

package winproc

import (
	"fmt"
	"runtime"
	"time"

	"github.com/whobinds/whobinds/internal/model"
)

func errNotSupported() error {
	return fmt.Errorf("windows processes on %s: %w", runtime.GOOS, ErrNotSupported)
}

// List fails with ErrNotSupported on this operating system.
func List() (map[int]Entry, error) { return nil, errNotSupported() }

// Details returns only the PID on this operating system, with the reason in
// Unreadable.
func Details(pid int, all map[int]Entry) *model.Process {
	return &model.Process{PID: pid, Unreadable: []string{unreadable("process", errNotSupported())}}
}

// CreationTime fails with ErrNotSupported on this operating system.
func CreationTime(pid int) (time.Time, error) { return time.Time{}, errNotSupported() }
