//go:build !windows

package scm

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

func TestNotSupported(t *testing.T) {
	check := func(call string, err error) {
		t.Helper()
		if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), runtime.GOOS) {
			t.Errorf("%s = %v; want ErrNotSupported naming %s", call, err, runtime.GOOS)
		}
	}
	m, err := Open()
	check("Open()", err)
	if m != nil {
		t.Errorf("Open() = %v; want nil", m)
	}
	_, err = (&Manager{}).ByPID()
	check("ByPID()", err)
	_, err = (&Manager{}).Config("RpcSs")
	check(`Config("RpcSs")`, err)
	check("Close()", (&Manager{}).Close())
	_, err = NameFromTag(1, 1)
	check("NameFromTag(1, 1)", err)
}
