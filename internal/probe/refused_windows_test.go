package probe

import "golang.org/x/sys/windows"

var refusedErrno = windows.WSAECONNREFUSED
