package act

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"syscall"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/windows/httpsys"
	"github.com/whobinds/whobinds/internal/windows/portrange"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

func init() { checkSys = windowsCheck{} }

// soExclusiveAddrUse is SO_EXCLUSIVEADDRUSE, ((int)(~SO_REUSEADDR)) in
// winsock2.h; golang.org/x/sys/windows does not define it.
const soExclusiveAddrUse = ^windows.SO_REUSEADDR

// windowsCheck makes trial binds with raw Winsock sockets and reads the
// excluded and dynamic port ranges with netsh and the URL reservations
// from http.sys.
type windowsCheck struct{}

func (windowsCheck) trial(t *BindTrial) {
	t.Err, t.Step, t.Code = BindOK, "", ""
	fail := func(step string, err error) {
		t.Step = step
		t.Err, t.Code = classifyWSA(err)
	}
	a := t.Addr.Addr()
	domain, typ, proto := windows.AF_INET, windows.SOCK_STREAM, windows.IPPROTO_TCP
	if a.Is6() && !a.Is4In6() {
		domain = windows.AF_INET6
	}
	if t.Proto == model.UDP {
		typ, proto = windows.SOCK_DGRAM, windows.IPPROTO_UDP
	}
	h, err := windows.Socket(domain, typ, proto)
	if err != nil {
		fail("socket", err)
		return
	}
	defer windows.Closesocket(h)
	// A careful server holds its port exclusively; SO_REUSEADDR and
	// SO_REUSEPORT are never set (see BindOptions).
	if err := windows.SetsockoptInt(h, windows.SOL_SOCKET, soExclusiveAddrUse, 1); err != nil {
		fail("setsockopt", err)
		return
	}
	var sa windows.Sockaddr
	if domain == windows.AF_INET6 {
		if t.V6Only != model.Unknown {
			v := 0
			if t.V6Only == model.Yes {
				v = 1
			}
			if err := windows.SetsockoptInt(h, windows.IPPROTO_IPV6, windows.IPV6_V6ONLY, v); err != nil {
				fail("setsockopt", err)
				return
			}
		}
		sa6 := &windows.SockaddrInet6{Port: int(t.Addr.Port()), Addr: a.As16()}
		sa6.ZoneId = zoneIndex(a.Zone())
		sa = sa6
	} else {
		sa = &windows.SockaddrInet4{Port: int(t.Addr.Port()), Addr: a.Unmap().As4()}
	}
	if err := windows.Bind(h, sa); err != nil {
		fail("bind", err)
		return
	}
	if t.Listen && t.Proto == model.TCP {
		if err := windows.Listen(h, 1); err != nil {
			fail("listen", err)
		}
	}
}

// classifyWSA maps a Winsock error to its class and name.
func classifyWSA(err error) (BindError, string) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return BindFailed, err.Error()
	}
	switch errno {
	case windows.WSAEADDRINUSE:
		return BindInUse, "WSAEADDRINUSE (10048)"
	case windows.WSAEACCES:
		return BindDenied, "WSAEACCES (10013)"
	case windows.WSAEADDRNOTAVAIL:
		return BindNotLocal, "WSAEADDRNOTAVAIL (10049)"
	case windows.WSAEAFNOSUPPORT:
		return BindNoFamily, "WSAEAFNOSUPPORT (10047)"
	}
	return BindFailed, fmt.Sprintf("Winsock error %d (%v)", int(errno), errno)
}

func (windowsCheck) facts(ctx context.Context, proto model.Proto, port uint16) BindFacts {
	f := BindFacts{OS: "windows", EUID: -1, UnprivilegedPortStart: -1}
	if u, err := user.Current(); err == nil {
		f.User = u.Username
	}
	for _, fam := range []int{4, 6} {
		ex, err := portrange.Excluded(ctx, proto, fam)
		switch {
		case errors.Is(err, portrange.ErrNoOutput):
			f.ExcludedUnknown = "netsh printed no excluded port ranges"
			if wine.Detected() {
				f.ExcludedUnknown += " (Wine's netsh is a stub)"
			}
		case err != nil:
			f.ExcludedUnknown = err.Error()
		}
		f.Excluded = append(f.Excluded, ex...)
		if dyn, err := portrange.Dynamic(ctx, proto, fam); err == nil {
			f.Dynamic = append(f.Dynamic, dyn)
		} else {
			f.Unknown = append(f.Unknown, fmt.Sprintf("the IPv%d dynamic port range: %v", fam, err))
		}
	}
	if f.ExcludedUnknown != "" {
		f.Unknown = append(f.Unknown, "the excluded port ranges: "+f.ExcludedUnknown)
	}
	if proto == model.TCP {
		acls, err := httpsys.URLACLs()
		if err != nil {
			f.URLACLsUnknown = err.Error()
			f.Unknown = append(f.Unknown, err.Error())
		}
		f.URLACLs = acls
	}
	return f
}
