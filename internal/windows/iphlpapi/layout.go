package iphlpapi

// This file holds the Windows row layouts: the eight MIB_*ROW_OWNER_* structs
// and TCPIP_OWNER_MODULE_BASIC_INFO, copied from iprtrmib.h, tcpmib.h and
// udpmib.h (Windows SDK; see the Microsoft Learn pages of MIB_TCPROW_OWNER_PID,
// MIB_TCP6ROW_OWNER_MODULE, MIB_UDPROW_OWNER_MODULE, ...), and the byte
// offsets Decode reads, derived from those structs. It is portable on purpose:
// the compile-time assertions at the bottom run for every GOOS and GOARCH the
// package is built for, so a layout that differs between 386, amd64 and arm64
// does not compile.
//
// MSVC aligns 64-bit fields to 8 on every Windows architecture, Go aligns them
// to 4 on 386. The explicit `_ uint32` fields below are the padding MSVC adds,
// so that the Go layout is the Windows layout on 386 too (windows.md 1.5).

import "unsafe"

// MIB_TCPROW_OWNER_PID (tcpmib.h), 24 bytes.
type mibTCPRowOwnerPID struct {
	State      uint32 // MIB_TCP_STATE
	LocalAddr  uint32 // IPv4 address, network byte order
	LocalPort  uint32 // port in network byte order in the low 16 bits
	RemoteAddr uint32
	RemotePort uint32
	OwningPID  uint32
}

// MIB_TCP6ROW_OWNER_PID (tcpmib.h), 56 bytes.
type mibTCP6RowOwnerPID struct {
	LocalAddr     [16]byte
	LocalScopeID  uint32
	LocalPort     uint32
	RemoteAddr    [16]byte
	RemoteScopeID uint32
	RemotePort    uint32
	State         uint32
	OwningPID     uint32
}

// MIB_UDPROW_OWNER_PID (udpmib.h), 12 bytes.
type mibUDPRowOwnerPID struct {
	LocalAddr uint32
	LocalPort uint32
	OwningPID uint32
}

// MIB_UDP6ROW_OWNER_PID (udpmib.h), 28 bytes.
type mibUDP6RowOwnerPID struct {
	LocalAddr    [16]byte
	LocalScopeID uint32
	LocalPort    uint32
	OwningPID    uint32
}

// MIB_TCPROW_OWNER_MODULE (tcpmib.h), 160 bytes.
type mibTCPRowOwnerModule struct {
	State      uint32
	LocalAddr  uint32
	LocalPort  uint32
	RemoteAddr uint32
	RemotePort uint32
	OwningPID  uint32
	// CreateTimestamp is liCreateTimestamp, a FILETIME (100 ns since
	// 1601-01-01 UTC) of the socket's creation.
	CreateTimestamp int64
	// OwningModuleInfo[0] holds the service tag (the creating thread's
	// SubProcessTag) in its low 32 bits; the rest is opaque.
	OwningModuleInfo [16]uint64
}

// MIB_TCP6ROW_OWNER_MODULE (tcpmib.h), 192 bytes.
type mibTCP6RowOwnerModule struct {
	LocalAddr        [16]byte
	LocalScopeID     uint32
	LocalPort        uint32
	RemoteAddr       [16]byte
	RemoteScopeID    uint32
	RemotePort       uint32
	State            uint32
	OwningPID        uint32
	CreateTimestamp  int64
	OwningModuleInfo [16]uint64
}

// MIB_UDPROW_OWNER_MODULE (udpmib.h), 160 bytes.
type mibUDPRowOwnerModule struct {
	LocalAddr        uint32
	LocalPort        uint32
	OwningPID        uint32
	_                uint32 // MSVC's padding before the 8-aligned timestamp
	CreateTimestamp  int64
	Flags            int32 // bit 0: SpecificPortBind
	_                uint32
	OwningModuleInfo [16]uint64
}

// MIB_UDP6ROW_OWNER_MODULE (udpmib.h), 176 bytes.
type mibUDP6RowOwnerModule struct {
	LocalAddr        [16]byte
	LocalScopeID     uint32
	LocalPort        uint32
	OwningPID        uint32
	_                uint32
	CreateTimestamp  int64
	Flags            int32
	_                uint32
	OwningModuleInfo [16]uint64
}

// TCPIP_OWNER_MODULE_BASIC_INFO (iprtrmib.h): two pointers to NUL-terminated
// UTF-16 strings that GetOwnerModuleFrom*Entry places after the struct in
// the same buffer. Declared with uintptr so that nothing treats memory the
// system wrote as Go pointers; decodeOwnerModule checks and follows them.
type tcpipOwnerModuleBasicInfo struct {
	ModuleName uintptr
	ModulePath uintptr
}

// layout says where the fields of one row layout are; -1 for a field the
// layout does not have.
type layout struct {
	size                                int
	state, pid                          int
	localAddr, localScope, localPort    int
	remoteAddr, remoteScope, remotePort int
	created, flags, module              int
	rowsAt                              int // offset of the first row in the table
}

// Offsets of the rows in a table: after the DWORD dwNumEntries for the
// OWNER_PID tables, and after dwNumEntries padded to 8 (the rows hold 64-bit
// fields) for the OWNER_MODULE tables, on every architecture.
const (
	pidRowsAt    = 4
	moduleRowsAt = 8
)

func off(x uintptr) int { return int(x) }

// The layouts Decode reads, derived from the structs above.
var (
	tcp4PIDLayout = layout{
		size:        off(unsafe.Sizeof(mibTCPRowOwnerPID{})),
		rowsAt:      pidRowsAt,
		state:       off(unsafe.Offsetof(mibTCPRowOwnerPID{}.State)),
		pid:         off(unsafe.Offsetof(mibTCPRowOwnerPID{}.OwningPID)),
		localAddr:   off(unsafe.Offsetof(mibTCPRowOwnerPID{}.LocalAddr)),
		localScope:  -1,
		localPort:   off(unsafe.Offsetof(mibTCPRowOwnerPID{}.LocalPort)),
		remoteAddr:  off(unsafe.Offsetof(mibTCPRowOwnerPID{}.RemoteAddr)),
		remoteScope: -1,
		remotePort:  off(unsafe.Offsetof(mibTCPRowOwnerPID{}.RemotePort)),
		created:     -1,
		flags:       -1,
		module:      -1,
	}
	tcp6PIDLayout = layout{
		size:        off(unsafe.Sizeof(mibTCP6RowOwnerPID{})),
		rowsAt:      pidRowsAt,
		state:       off(unsafe.Offsetof(mibTCP6RowOwnerPID{}.State)),
		pid:         off(unsafe.Offsetof(mibTCP6RowOwnerPID{}.OwningPID)),
		localAddr:   off(unsafe.Offsetof(mibTCP6RowOwnerPID{}.LocalAddr)),
		localScope:  off(unsafe.Offsetof(mibTCP6RowOwnerPID{}.LocalScopeID)),
		localPort:   off(unsafe.Offsetof(mibTCP6RowOwnerPID{}.LocalPort)),
		remoteAddr:  off(unsafe.Offsetof(mibTCP6RowOwnerPID{}.RemoteAddr)),
		remoteScope: off(unsafe.Offsetof(mibTCP6RowOwnerPID{}.RemoteScopeID)),
		remotePort:  off(unsafe.Offsetof(mibTCP6RowOwnerPID{}.RemotePort)),
		created:     -1,
		flags:       -1,
		module:      -1,
	}
	udp4PIDLayout = layout{
		size:        off(unsafe.Sizeof(mibUDPRowOwnerPID{})),
		rowsAt:      pidRowsAt,
		state:       -1,
		pid:         off(unsafe.Offsetof(mibUDPRowOwnerPID{}.OwningPID)),
		localAddr:   off(unsafe.Offsetof(mibUDPRowOwnerPID{}.LocalAddr)),
		localScope:  -1,
		localPort:   off(unsafe.Offsetof(mibUDPRowOwnerPID{}.LocalPort)),
		remoteAddr:  -1,
		remoteScope: -1,
		remotePort:  -1,
		created:     -1,
		flags:       -1,
		module:      -1,
	}
	udp6PIDLayout = layout{
		size:        off(unsafe.Sizeof(mibUDP6RowOwnerPID{})),
		rowsAt:      pidRowsAt,
		state:       -1,
		pid:         off(unsafe.Offsetof(mibUDP6RowOwnerPID{}.OwningPID)),
		localAddr:   off(unsafe.Offsetof(mibUDP6RowOwnerPID{}.LocalAddr)),
		localScope:  off(unsafe.Offsetof(mibUDP6RowOwnerPID{}.LocalScopeID)),
		localPort:   off(unsafe.Offsetof(mibUDP6RowOwnerPID{}.LocalPort)),
		remoteAddr:  -1,
		remoteScope: -1,
		remotePort:  -1,
		created:     -1,
		flags:       -1,
		module:      -1,
	}
	tcp4ModuleLayout = layout{
		size:        off(unsafe.Sizeof(mibTCPRowOwnerModule{})),
		rowsAt:      moduleRowsAt,
		state:       off(unsafe.Offsetof(mibTCPRowOwnerModule{}.State)),
		pid:         off(unsafe.Offsetof(mibTCPRowOwnerModule{}.OwningPID)),
		localAddr:   off(unsafe.Offsetof(mibTCPRowOwnerModule{}.LocalAddr)),
		localScope:  -1,
		localPort:   off(unsafe.Offsetof(mibTCPRowOwnerModule{}.LocalPort)),
		remoteAddr:  off(unsafe.Offsetof(mibTCPRowOwnerModule{}.RemoteAddr)),
		remoteScope: -1,
		remotePort:  off(unsafe.Offsetof(mibTCPRowOwnerModule{}.RemotePort)),
		created:     off(unsafe.Offsetof(mibTCPRowOwnerModule{}.CreateTimestamp)),
		flags:       -1,
		module:      off(unsafe.Offsetof(mibTCPRowOwnerModule{}.OwningModuleInfo)),
	}
	tcp6ModuleLayout = layout{
		size:        off(unsafe.Sizeof(mibTCP6RowOwnerModule{})),
		rowsAt:      moduleRowsAt,
		state:       off(unsafe.Offsetof(mibTCP6RowOwnerModule{}.State)),
		pid:         off(unsafe.Offsetof(mibTCP6RowOwnerModule{}.OwningPID)),
		localAddr:   off(unsafe.Offsetof(mibTCP6RowOwnerModule{}.LocalAddr)),
		localScope:  off(unsafe.Offsetof(mibTCP6RowOwnerModule{}.LocalScopeID)),
		localPort:   off(unsafe.Offsetof(mibTCP6RowOwnerModule{}.LocalPort)),
		remoteAddr:  off(unsafe.Offsetof(mibTCP6RowOwnerModule{}.RemoteAddr)),
		remoteScope: off(unsafe.Offsetof(mibTCP6RowOwnerModule{}.RemoteScopeID)),
		remotePort:  off(unsafe.Offsetof(mibTCP6RowOwnerModule{}.RemotePort)),
		created:     off(unsafe.Offsetof(mibTCP6RowOwnerModule{}.CreateTimestamp)),
		flags:       -1,
		module:      off(unsafe.Offsetof(mibTCP6RowOwnerModule{}.OwningModuleInfo)),
	}
	udp4ModuleLayout = layout{
		size:        off(unsafe.Sizeof(mibUDPRowOwnerModule{})),
		rowsAt:      moduleRowsAt,
		state:       -1,
		pid:         off(unsafe.Offsetof(mibUDPRowOwnerModule{}.OwningPID)),
		localAddr:   off(unsafe.Offsetof(mibUDPRowOwnerModule{}.LocalAddr)),
		localScope:  -1,
		localPort:   off(unsafe.Offsetof(mibUDPRowOwnerModule{}.LocalPort)),
		remoteAddr:  -1,
		remoteScope: -1,
		remotePort:  -1,
		created:     off(unsafe.Offsetof(mibUDPRowOwnerModule{}.CreateTimestamp)),
		flags:       off(unsafe.Offsetof(mibUDPRowOwnerModule{}.Flags)),
		module:      off(unsafe.Offsetof(mibUDPRowOwnerModule{}.OwningModuleInfo)),
	}
	udp6ModuleLayout = layout{
		size:        off(unsafe.Sizeof(mibUDP6RowOwnerModule{})),
		rowsAt:      moduleRowsAt,
		state:       -1,
		pid:         off(unsafe.Offsetof(mibUDP6RowOwnerModule{}.OwningPID)),
		localAddr:   off(unsafe.Offsetof(mibUDP6RowOwnerModule{}.LocalAddr)),
		localScope:  off(unsafe.Offsetof(mibUDP6RowOwnerModule{}.LocalScopeID)),
		localPort:   off(unsafe.Offsetof(mibUDP6RowOwnerModule{}.LocalPort)),
		remoteAddr:  -1,
		remoteScope: -1,
		remotePort:  -1,
		created:     off(unsafe.Offsetof(mibUDP6RowOwnerModule{}.CreateTimestamp)),
		flags:       off(unsafe.Offsetof(mibUDP6RowOwnerModule{}.Flags)),
		module:      off(unsafe.Offsetof(mibUDP6RowOwnerModule{}.OwningModuleInfo)),
	}
)

// Compile-time checks against the documented Windows layout (windows.md 1.2,
// the sizes and offsets Wine 8 and the SDK headers agree on). `var _ [N]byte
// = [M]byte{}` compiles only when M == N, on every GOARCH.
var (
	_ [24]byte  = [unsafe.Sizeof(mibTCPRowOwnerPID{})]byte{}
	_ [56]byte  = [unsafe.Sizeof(mibTCP6RowOwnerPID{})]byte{}
	_ [12]byte  = [unsafe.Sizeof(mibUDPRowOwnerPID{})]byte{}
	_ [28]byte  = [unsafe.Sizeof(mibUDP6RowOwnerPID{})]byte{}
	_ [160]byte = [unsafe.Sizeof(mibTCPRowOwnerModule{})]byte{}
	_ [192]byte = [unsafe.Sizeof(mibTCP6RowOwnerModule{})]byte{}
	_ [160]byte = [unsafe.Sizeof(mibUDPRowOwnerModule{})]byte{}
	_ [176]byte = [unsafe.Sizeof(mibUDP6RowOwnerModule{})]byte{}

	_ [20]byte = [unsafe.Offsetof(mibTCPRowOwnerPID{}.OwningPID)]byte{}
	_ [48]byte = [unsafe.Offsetof(mibTCP6RowOwnerPID{}.State)]byte{}
	_ [52]byte = [unsafe.Offsetof(mibTCP6RowOwnerPID{}.OwningPID)]byte{}
	_ [8]byte  = [unsafe.Offsetof(mibUDPRowOwnerPID{}.OwningPID)]byte{}
	_ [24]byte = [unsafe.Offsetof(mibUDP6RowOwnerPID{}.OwningPID)]byte{}

	_ [24]byte = [unsafe.Offsetof(mibTCPRowOwnerModule{}.CreateTimestamp)]byte{}
	_ [32]byte = [unsafe.Offsetof(mibTCPRowOwnerModule{}.OwningModuleInfo)]byte{}
	_ [56]byte = [unsafe.Offsetof(mibTCP6RowOwnerModule{}.CreateTimestamp)]byte{}
	_ [64]byte = [unsafe.Offsetof(mibTCP6RowOwnerModule{}.OwningModuleInfo)]byte{}
	_ [16]byte = [unsafe.Offsetof(mibUDPRowOwnerModule{}.CreateTimestamp)]byte{}
	_ [24]byte = [unsafe.Offsetof(mibUDPRowOwnerModule{}.Flags)]byte{}
	_ [32]byte = [unsafe.Offsetof(mibUDPRowOwnerModule{}.OwningModuleInfo)]byte{}
	_ [32]byte = [unsafe.Offsetof(mibUDP6RowOwnerModule{}.CreateTimestamp)]byte{}
	_ [40]byte = [unsafe.Offsetof(mibUDP6RowOwnerModule{}.Flags)]byte{}
	_ [48]byte = [unsafe.Offsetof(mibUDP6RowOwnerModule{}.OwningModuleInfo)]byte{}

	// Two pointers: 8 bytes on 386, 16 on amd64 and arm64.
	_ [2 * unsafe.Sizeof(uintptr(0))]byte = [unsafe.Sizeof(tcpipOwnerModuleBasicInfo{})]byte{}
)
