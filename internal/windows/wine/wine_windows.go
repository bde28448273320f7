package wine

import (
	"net"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

var detected = sync.OnceValue(func() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
})

// Detected reports whether this process runs under Wine: ntdll exports
// wine_get_version there and nowhere else.
func Detected() bool { return detected() }

// Touch makes Wine 8 cache the host file descriptor of c in this process,
// so that its socket tables name this process as the owner of c instead of
// PID 0. Call it after Listen or Bind; on Windows it is a harmless
// getsockopt. c is a *net.TCPListener, a *net.TCPConn, a *net.UDPConn or
// anything else with a SyscallConn method.
func Touch(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) { serr = TouchHandle(windows.Handle(fd), isIPv6(c)) })
	if err != nil {
		return err
	}
	return serr
}

// TouchHandle is Touch for a raw socket handle (UDP test sockets opened
// with windows.Socket, because Go's net package cannot open UDP sockets
// under Wine 8).
func TouchHandle(h windows.Handle, ipv6 bool) error {
	var v int32
	n := int32(unsafe.Sizeof(v))
	level, opt := int32(windows.IPPROTO_IP), int32(windows.IP_TTL)
	if ipv6 {
		level, opt = windows.IPPROTO_IPV6, windows.IPV6_UNICAST_HOPS
	}
	return windows.Getsockopt(h, level, opt, (*byte)(unsafe.Pointer(&v)), &n)
}

func isIPv6(c syscall.Conn) bool {
	var a net.Addr
	switch c := c.(type) {
	case net.Listener:
		a = c.Addr()
	case net.Conn:
		a = c.LocalAddr()
	case net.PacketConn:
		a = c.LocalAddr()
	}
	var ip net.IP
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	}
	return ip != nil && ip.To4() == nil
}
