// Package iphlpapi reads Windows' TCP and UDP socket tables with their
// owners: GetExtendedTcpTable and GetExtendedUdpTable for the local and
// remote ends, state, owning PID, creation time and service tag of every
// socket, and GetOwnerModuleFrom{Tcp,Tcp6,Udp,Udp6}Entry for the module (the
// executable, or a service's short name) that owns one of them.
//
// Decode, the table decoder, is portable and is tested and fuzzed on every
// OS with byte fixtures built from the documented layouts. Get and
// OwnerModule call the system and exist on every OS; off Windows they return
// an error wrapping ErrNotSupported.
//
// The layouts, their gotchas and what Wine 8 implements are in
// shared/design/windows.md (section 1) and shared/design/wine.md (section 3).
package iphlpapi

// This file holds the types, the errors and the portable table decoder.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"strconv"
	"time"

	"github.com/whobinds/whobinds/internal/model"
)

var (
	// ErrNotSupported is wrapped by every error of Get and OwnerModule on
	// an operating system other than Windows.
	ErrNotSupported = errors.New("not supported")
	// ErrNotAvailable is wrapped by the error of OwnerModule when iphlpapi.dll
	// does not export the GetOwnerModuleFrom*Entry function it needs (Wine 8
	// exports none of them).
	ErrNotAvailable = errors.New("not available on this system")
	// ErrNoModule is wrapped by the error of OwnerModule for a row that has
	// no owning module: PID 0 (a TIME_WAIT leftover on Windows; under Wine,
	// any owner Wine could not see), PID 4 (System: the kernel's own
	// sockets, http.sys, SMB, NetBT) or a process that has exited.
	ErrNoModule = errors.New("no owning module")
	// ErrPermission is wrapped by the error of OwnerModule when Windows
	// withholds the owning module: access denied, or the empty answer a
	// non-elevated caller gets for protected processes such as svchost.
	ErrPermission = errors.New("run as administrator to see the owning module")
)

// Table names one socket table.
type Table uint8

// The tables, one per protocol and address family.
const (
	TCP4 Table = iota
	TCP6
	UDP4
	UDP6
)

var tableNames = [...]string{TCP4: "tcp4", TCP6: "tcp6", UDP4: "udp4", UDP6: "udp6"}

// String returns "tcp4", "tcp6", "udp4" or "udp6".
func (t Table) String() string {
	if int(t) < len(tableNames) {
		return tableNames[t]
	}
	return "table" + strconv.Itoa(int(t))
}

// Proto is the table's protocol.
func (t Table) Proto() model.Proto {
	if t == UDP4 || t == UDP6 {
		return model.UDP
	}
	return model.TCP
}

func (t Table) valid() bool { return t <= UDP6 }
func (t Table) tcp() bool   { return t == TCP4 || t == TCP6 }
func (t Table) ipv6() bool  { return t == TCP6 || t == UDP6 }

// Windows address families (ws2def.h); AF_INET6 is 23 on Windows, not 10.
const (
	afInet  = 2
	afInet6 = 23
)

// family is the ulAf argument for the table.
func (t Table) family() uint32 {
	if t.ipv6() {
		return afInet6
	}
	return afInet
}

// Class is the table class asked for.
type Class uint8

// The classes. The OwnerModule classes add the socket's creation time and
// service tag to what the OwnerPID classes give, at 160-192 bytes a row
// instead of 12-56. UDP has no listener class: its Listener classes ask for
// the same table as the All ones.
const (
	OwnerModuleAll      Class = iota // TCP_TABLE_OWNER_MODULE_ALL (8) / UDP_TABLE_OWNER_MODULE (2)
	OwnerModuleListener              // TCP_TABLE_OWNER_MODULE_LISTENER (6); for UDP the same as OwnerModuleAll
	OwnerPIDAll                      // TCP_TABLE_OWNER_PID_ALL (5) / UDP_TABLE_OWNER_PID (1)
	OwnerPIDListener                 // TCP_TABLE_OWNER_PID_LISTENER (3) / UDP_TABLE_OWNER_PID (1)
)

var classNames = [...]string{
	OwnerModuleAll:      "owner-module-all",
	OwnerModuleListener: "owner-module-listener",
	OwnerPIDAll:         "owner-pid-all",
	OwnerPIDListener:    "owner-pid-listener",
}

// String returns "owner-module-all", "owner-module-listener", ...
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "class" + strconv.Itoa(int(c))
}

func (c Class) valid() bool  { return c <= OwnerPIDListener }
func (c Class) module() bool { return c == OwnerModuleAll || c == OwnerModuleListener }

// native is the TCP_TABLE_CLASS or UDP_TABLE_CLASS value (iprtrmib.h) for
// class c of table t.
func native(t Table, c Class) uint32 {
	if t.tcp() {
		return [...]uint32{OwnerModuleAll: 8, OwnerModuleListener: 6, OwnerPIDAll: 5, OwnerPIDListener: 3}[c]
	}
	if c.module() {
		return 2
	}
	return 1
}

// layoutOf returns the row layout of class c of table t.
func layoutOf(t Table, c Class) *layout {
	if c.module() {
		return [...]*layout{TCP4: &tcp4ModuleLayout, TCP6: &tcp6ModuleLayout, UDP4: &udp4ModuleLayout, UDP6: &udp6ModuleLayout}[t]
	}
	return [...]*layout{TCP4: &tcp4PIDLayout, TCP6: &tcp6PIDLayout, UDP4: &udp4PIDLayout, UDP6: &udp6PIDLayout}[t]
}

// Row is one socket of a table.
type Row struct {
	Table Table
	// Local is the local address and port. IPv6 link-local addresses carry
	// the scope ID as their zone when it is not 0 ("fe80::1%12"); other
	// addresses carry none (see zoned). A dual-stack socket
	// connected from an IPv4 peer has IPv4-mapped addresses (::ffff:a.b.c.d)
	// in the IPv6 tables; they are kept as they are.
	Local netip.AddrPort
	// Remote is the remote end for TCP rows. For listeners Windows says the
	// remote fields "have no meaning", and Remote is 0.0.0.0:0 or [::]:0.
	// It is the zero netip.AddrPort for UDP rows.
	Remote netip.AddrPort
	// State is the row's MIB_TCP_STATE mapped onto model's Linux-numbered
	// states (stateOf says how). UDP rows are model.Close (ss's "UNCONN").
	State model.State
	// PID is the owning process as recorded when the socket was created: a
	// child that inherited the socket after its creator exited still shows
	// the creator's PID. 0 is "System Idle Process" (TIME_WAIT leftovers;
	// under Wine 8 every owner Wine cannot see), 4 is System (the kernel).
	PID uint32
	// Created is when the socket was created (liCreateTimestamp); zero for
	// the OwnerPID classes and when the table says 0 (always, under Wine 8).
	Created time.Time
	// Tag is the service tag of the thread that created the socket, the low
	// 32 bits of OwningModuleInfo[0]; 0 for none (and for the OwnerPID
	// classes, and always under Wine 8). It names the service inside a
	// shared svchost.exe.
	Tag uint32
	// SpecificPortBind is bit 0 of the Flags of a UDP owner-module row: the
	// socket was bound to a specific port rather than a wildcard one.
	SpecificPortBind bool

	// raw is the row's bytes as the table held them, for OwnerModule; nil
	// for the OwnerPID classes, whose rows GetOwnerModuleFrom*Entry does not
	// take.
	raw []byte
}

// stateOf maps a MIB_TCP_STATE (tcpmib.h) onto model's states, which are
// numbered as Linux numbers TCP states. Each Windows state has a Linux
// state of the same name and meaning, except:
//
//   - MIB_TCP_STATE_CLOSED (1) becomes model.Close, Linux's TCP_CLOSE: a TCP
//     socket that is neither listening nor connected. ss prints "UNCONN"
//     for TCP_CLOSE too, and IsListener is false for TCP sockets in it.
//   - MIB_TCP_STATE_DELETE_TCB (12), a control block being deleted, has no
//     Linux counterpart and becomes model.StateUnknown.
//   - 100 (MIB_TCP_STATE_RESERVED, shown by netstat -q as BOUND) becomes
//     model.BoundInactive, Linux's bound-but-inactive state.
//
// Any other value becomes model.StateUnknown.
func stateOf(s uint32) model.State {
	switch s {
	case 1:
		return model.Close
	case 2:
		return model.Listen
	case 3:
		return model.SynSent
	case 4:
		return model.SynRecv
	case 5:
		return model.Established
	case 6:
		return model.FinWait1
	case 7:
		return model.FinWait2
	case 8:
		return model.CloseWait
	case 9:
		return model.Closing
	case 10:
		return model.LastAck
	case 11:
		return model.TimeWait
	case 100:
		return model.BoundInactive
	}
	return model.StateUnknown
}

// mibTCPStateListen is MIB_TCP_STATE_LISTEN.
const mibTCPStateListen = 2

// Decode decodes a table buffer as returned by GetExtendedTcpTable or
// GetExtendedUdpTable for table t and class c: the DWORD dwNumEntries, then
// the rows at offset 4 for the OwnerPID classes and 8 for the OwnerModule
// classes. Bytes after the last row are ignored (callers pass buffers with
// headroom).
//
// A buffer too short for the count, or a count that claims more rows than
// the buffer holds, is an error wrapping io.ErrUnexpectedEOF that says so;
// the rows that fit are still returned, so a caller can degrade. The rows of
// the OwnerModule classes keep a copy of their bytes for OwnerModule; the
// rows do not refer to b.
func Decode(b []byte, t Table, c Class) ([]Row, error) {
	if !t.valid() {
		return nil, fmt.Errorf("decoding socket table: unknown table %d", t)
	}
	if !c.valid() {
		return nil, fmt.Errorf("decoding %s table: unknown class %d", t, c)
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("decoding %s %s table: %d bytes, too short for the entry count: %w",
			t, c, len(b), io.ErrUnexpectedEOF)
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if n == 0 {
		return nil, nil
	}
	l := layoutOf(t, c)
	fit := uint64(0)
	if len(b) > l.rowsAt {
		fit = uint64(len(b)-l.rowsAt) / uint64(l.size)
	}
	var err error
	if n > fit {
		err = fmt.Errorf("decoding %s %s table: it claims %d rows but its %d bytes hold only %d: %w",
			t, c, n, len(b), fit, io.ErrUnexpectedEOF)
		n = fit
	}
	if n == 0 {
		return nil, err
	}
	rowBytes := b[l.rowsAt : l.rowsAt+int(n)*l.size]
	var raw []byte
	if c.module() {
		raw = append([]byte(nil), rowBytes...)
		rowBytes = raw
	}
	rows := make([]Row, n)
	for i := range rows {
		rb := rowBytes[i*l.size : (i+1)*l.size : (i+1)*l.size]
		decodeRow(&rows[i], rb, t, l)
		if raw != nil {
			rows[i].raw = rb
		}
	}
	return rows, err
}

// DropRepeatedRows removes from rows, in place, every row that repeats an
// earlier one, and returns the shortened slice. Wine builds its tables
// from /proc/net/tcp, tcp6, udp and udp6, which the kernel hands out a
// page at a time, so a table read while sockets come and go can list one
// twice; Windows copies its tables whole and has no repeats.
//
// A TCP connection (a row with a remote port) repeats an earlier row with
// the same local end, remote end and state: that pair is one socket. Any
// other row repeats only a row equal to it in every field. Two listeners
// or UDP sockets may share a local port (SO_REUSEADDR on Windows,
// SO_REUSEPORT on Linux under Wine) and are told apart by owner and, in
// the owner-module classes on Windows, creation time; one process's two
// such sockets with no creation time to tell them apart (the owner-PID
// classes, Wine) are listed once.
func DropRepeatedRows(rows []Row) []Row {
	type key struct {
		table         Table
		local, remote netip.AddrPort
		state         model.State
		pid           uint32
		created       time.Time
		tag           uint32
		specific      bool
	}
	var seen map[key]bool
	out := rows[:0]
	for _, r := range rows {
		k := key{r.Table, r.Local, r.Remote, r.State, r.PID, r.Created, r.Tag, r.SpecificPortBind}
		if r.Table.tcp() && r.Remote.Port() != 0 {
			k = key{table: r.Table, local: r.Local, remote: r.Remote, state: r.State}
		}
		if seen[k] {
			continue
		}
		if seen == nil {
			seen = make(map[key]bool, len(rows))
		}
		seen[k] = true
		out = append(out, r)
	}
	clear(rows[len(out):])
	return out
}

// decodeRow decodes one row; rb is exactly l.size bytes long.
func decodeRow(r *Row, rb []byte, t Table, l *layout) {
	le := binary.LittleEndian
	r.Table = t
	r.PID = le.Uint32(rb[l.pid:])
	r.Local = addrPort(rb, l.localAddr, l.localScope, l.localPort, t.ipv6())
	if t.tcp() {
		state := le.Uint32(rb[l.state:])
		r.State = stateOf(state)
		if state == mibTCPStateListen {
			r.Remote = netip.AddrPortFrom(unspecified(t.ipv6()), 0)
		} else {
			r.Remote = addrPort(rb, l.remoteAddr, l.remoteScope, l.remotePort, t.ipv6())
		}
	} else {
		r.State = model.Close
	}
	if l.created >= 0 {
		r.Created = filetime(int64(le.Uint64(rb[l.created:])))
	}
	if l.module >= 0 {
		r.Tag = uint32(le.Uint64(rb[l.module:]))
	}
	if l.flags >= 0 {
		r.SpecificPortBind = le.Uint32(rb[l.flags:])&1 != 0
	}
}

// addrPort decodes an address, its scope ID (scope < 0: none) and a port
// from a row. IPv4 addresses are in network byte order, so their bytes in
// memory are a.b.c.d. Ports hold the port in network byte order in the low
// 16 bits of a little-endian DWORD; the upper 16 bits are not always zero.
func addrPort(rb []byte, addr, scope, port int, ipv6 bool) netip.AddrPort {
	var a netip.Addr
	if ipv6 {
		a = netip.AddrFrom16([16]byte(rb[addr : addr+16]))
		if id := binary.LittleEndian.Uint32(rb[scope:]); id != 0 && zoned(a) {
			a = a.WithZone(strconv.FormatUint(uint64(id), 10))
		}
	} else {
		a = netip.AddrFrom4([4]byte(rb[addr : addr+4]))
	}
	p := bits.ReverseBytes16(uint16(binary.LittleEndian.Uint32(rb[port:])))
	return netip.AddrPortFrom(a, p)
}

// zoned reports whether a's scope ID names a zone: link-local unicast and
// multicast and interface-local multicast addresses. Windows sets the scope
// ID of these only (to the interface index); Wine 8 sets it for others too,
// to its Linux address scope (0x1000 for ::1), which names no zone.
func zoned(a netip.Addr) bool {
	return a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast()
}

func unspecified(ipv6 bool) netip.Addr {
	if ipv6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// FILETIME counts 100 ns intervals since 1601-01-01 UTC; this many of them
// lie between then and the Unix epoch.
const filetimeUnixEpoch = 116444736000000000

// filetime converts a FILETIME to a time; 0 (not recorded) and negative
// values (not a valid FILETIME) give the zero time.
func filetime(ft int64) time.Time {
	if ft <= 0 {
		return time.Time{}
	}
	d := ft - filetimeUnixEpoch
	sec, rem := d/1e7, d%1e7
	if rem < 0 {
		sec, rem = sec-1, rem+1e7
	}
	return time.Unix(sec, rem*100)
}
