//go:build !windows

package scm

import (
	"fmt"
	"runtime"
)

// Manager is the service control manager; it cannot be opened on this
// operating system.
type Manager struct{}

func errNotSupported() error {
	return fmt.Errorf("service control manager on %s: %w", runtime.GOOS, ErrNotSupported)
}

// Open fails with ErrNotSupported on this operating system.
func Open() (*Manager, error) { return nil, errNotSupported() }

// Close fails with ErrNotSupported on this operating system.
func (m *Manager) Close() error { return errNotSupported() }

// ByPID fails with ErrNotSupported on this operating system.
func (m *Manager) ByPID() (map[int][]Service, error) { return nil, errNotSupported() }

// Config fails with ErrNotSupported on this operating system.
func (m *Manager) Config(name string) (Config, error) { return Config{}, errNotSupported() }

// NameFromTag fails with ErrNotSupported on this operating system.
func NameFromTag(pid, tag uint32) (string, error) { return "", errNotSupported() }
