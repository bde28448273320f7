package act

import (
	"context"
	"errors"
	"os"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/model"
)

func init() { checkSys = linuxCheck{proc: "/proc"} }

// linuxCheck makes trial binds with raw sockets, so that every option is
// set exactly as asked, and reads the facts from procfs.
type linuxCheck struct{ proc string }

func (linuxCheck) trial(t *BindTrial) {
	t.Err, t.Step, t.Code = BindOK, "", ""
	fail := func(step string, err error) {
		t.Step = step
		t.Err, t.Code = classifyErrno(err)
	}
	a := t.Addr.Addr()
	domain := unix.AF_INET
	if a.Is6() && !a.Is4In6() {
		domain = unix.AF_INET6
	}
	typ := unix.SOCK_STREAM
	if t.Proto == model.UDP {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("socket", err)
		return
	}
	defer unix.Close(fd)
	set := func(level, opt, v int) bool {
		if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
			fail("setsockopt", err)
			return false
		}
		return true
	}
	if t.ReuseAddr && !set(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) {
		return
	}
	if t.ReusePort && !set(unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) {
		return
	}
	var sa unix.Sockaddr
	if domain == unix.AF_INET6 {
		if t.V6Only != model.Unknown && !set(unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, boolInt(t.V6Only == model.Yes)) {
			return
		}
		sa6 := &unix.SockaddrInet6{Port: int(t.Addr.Port()), Addr: a.As16()}
		sa6.ZoneId = zoneIndex(a.Zone())
		sa = sa6
	} else {
		sa = &unix.SockaddrInet4{Port: int(t.Addr.Port()), Addr: a.Unmap().As4()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		fail("bind", err)
		return
	}
	if t.Listen && t.Proto == model.TCP {
		if err := unix.Listen(fd, 1); err != nil {
			fail("listen", err)
		}
	}
}

// classifyErrno maps a Linux error to its class and name.
func classifyErrno(err error) (BindError, string) {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return BindFailed, err.Error()
	}
	name := unix.ErrnoName(errno)
	if name == "" {
		name = "errno " + strconv.Itoa(int(errno))
	}
	switch errno {
	case unix.EADDRINUSE:
		return BindInUse, name
	case unix.EACCES, unix.EPERM:
		return BindDenied, name
	case unix.EADDRNOTAVAIL:
		return BindNotLocal, name
	case unix.EAFNOSUPPORT:
		return BindNoFamily, name
	}
	return BindFailed, name
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c linuxCheck) facts(ctx context.Context, proto model.Proto, port uint16) BindFacts {
	f := readLinuxFacts(c.proc, os.ReadFile)
	f.EUID = os.Geteuid()
	if u, err := user.LookupId(strconv.Itoa(f.EUID)); err == nil {
		f.User = u.Username
	}
	return f
}
