//go:build !windows

package probe

import "syscall"

var refusedErrno = syscall.ECONNREFUSED
