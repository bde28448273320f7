package iphlpapi

// This file calls the system: GetExtendedTcpTable/GetExtendedUdpTable with a
// bounded retry, and GetOwnerModuleFrom*Entry. The bindings are generated
// into zsyscall_windows.go from syscall_windows.go.

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/windows/wine"
)

// maxTries bounds the calls Get makes for one table: each call that finds
// the buffer too small (the table grew since the size was asked) retries
// with the size it reported and some headroom.
const maxTries = 8

// minTableSize is the smallest buffer fetch starts with; a variable so that
// a test can force the retry.
var minTableSize uint32 = 4096

// sizeHints remembers, per table and class, the buffer size that last
// worked, so that a repeated Get usually makes one call instead of two.
var sizeHints [UDP6 + 1][OwnerPIDListener + 1]atomic.Uint32

// Get calls GetExtendedTcpTable or GetExtendedUdpTable for table t and class
// c and decodes the result. The rows come in the order Windows gives them
// (bOrder is FALSE: sorting costs the system time; sort in Go if needed),
// and under Wine without repeated rows (see DropRepeatedRows).
// A table that grows between calls is retried up to maxTries times. Reading
// the tables needs no elevation.
func Get(t Table, c Class) ([]Row, error) {
	if !t.valid() || !c.valid() {
		return nil, fmt.Errorf("reading socket table: unknown table %d or class %d", t, c)
	}
	b, err := fetch(t, c)
	if err != nil {
		return nil, err
	}
	rows, err := Decode(b, t, c)
	if wine.Detected() {
		// Only Wine's tables repeat rows; the check costs about a
		// millisecond per 5000 rows, which Windows need not pay.
		rows = DropRepeatedRows(rows)
	}
	return rows, err
}

// fetch returns the raw table, in memory aligned to 8 bytes (the owner-module
// rows hold 64-bit fields).
func fetch(t Table, c Class) ([]byte, error) {
	call, name := getExtendedTCPTable, "GetExtendedTcpTable"
	if !t.tcp() {
		call, name = getExtendedUDPTable, "GetExtendedUdpTable"
	}
	hint := &sizeHints[t][c]
	rowSize := uint32(layoutOf(t, c).size)
	size := max(hint.Load(), minTableSize)
	for range maxTries {
		buf := make([]uint64, max(1, (uint64(size)+7)/8))
		n := uint32(len(buf) * 8)
		err := call(&buf[0], &n, false, t.family(), native(t, c), 0)
		switch {
		case err == nil:
			hint.Store(uint32(len(buf) * 8))
			return unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8), nil
		case errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER):
			// n is what the table needs now; leave room for the sockets
			// opened before the next call.
			size = n + n/8 + 16*rowSize
		default:
			return nil, fmt.Errorf("%s(%s, %s): %w", name, t, c, err)
		}
	}
	return nil, fmt.Errorf("%s(%s, %s): the table grew between each of %d calls", name, t, c, maxTries)
}

// ownerModuleProcs are the exports OwnerModule needs, per table.
var ownerModuleProcs = [...]*windows.LazyProc{
	TCP4: procGetOwnerModuleFromTcpEntry,
	TCP6: procGetOwnerModuleFromTcp6Entry,
	UDP4: procGetOwnerModuleFromUdpEntry,
	UDP6: procGetOwnerModuleFromUdp6Entry,
}

// OwnerModule asks GetOwnerModuleFrom{Tcp,Tcp6,Udp,Udp6}Entry which module
// owns r's socket. For a plain process name is the executable's file name
// and path its full path; for a socket a service opened (r.Tag != 0) both
// are the service's short name ("Dnscache").
//
// r must come from an OwnerModule class. The error wraps ErrNotAvailable
// when iphlpapi.dll lacks the export (Wine 8); ErrNoModule for PID 0, PID 4
// and a process that has exited; ErrPermission when Windows denies the
// answer or gives empty strings, which it does for protected processes
// (svchost services) unless the caller runs elevated. Each call costs an
// RPC: call it for the rows of interest only.
func OwnerModule(r *Row) (name, path string, err error) {
	if err := checkOwnerRow(r); err != nil {
		return "", "", err
	}
	fn := ownerModuleFuncs[r.Table]
	if err := ownerModuleProcs[r.Table].Find(); err != nil {
		return "", "", fmt.Errorf("%s: iphlpapi.dll does not export it: %w", fn, ErrNotAvailable)
	}
	// The row goes back to Windows as the struct it was, 8-byte aligned.
	row := make([]uint64, (len(r.raw)+7)/8)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&row[0])), len(row)*8), r.raw)
	rp := unsafe.Pointer(&row[0])
	call := func(buf *uint64, size *uint32) error {
		const class = 0 // TCPIP_OWNER_MODULE_INFO_BASIC
		switch r.Table {
		case TCP4:
			return getOwnerModuleFromTCPEntry((*mibTCPRowOwnerModule)(rp), class, buf, size)
		case TCP6:
			return getOwnerModuleFromTCP6Entry((*mibTCP6RowOwnerModule)(rp), class, buf, size)
		case UDP4:
			return getOwnerModuleFromUDPEntry((*mibUDPRowOwnerModule)(rp), class, buf, size)
		default:
			return getOwnerModuleFromUDP6Entry((*mibUDP6RowOwnerModule)(rp), class, buf, size)
		}
	}
	size := uint32(1024)
	for range maxTries {
		buf := make([]uint64, max(1, (uint64(size)+7)/8))
		size = uint32(len(buf) * 8)
		err := call(&buf[0], &size)
		switch {
		case err == nil:
			b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8)
			name, path, err := decodeOwnerModule(b, uint64(uintptr(unsafe.Pointer(&buf[0]))), int(unsafe.Sizeof(uintptr(0))))
			if err != nil {
				return "", "", fmt.Errorf("%s for PID %d: %w", fn, r.PID, err)
			}
			if name == "" && path == "" {
				return "", "", fmt.Errorf("%s for PID %d gave empty strings: %w", fn, r.PID, ErrPermission)
			}
			return name, path, nil
		case errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER):
			continue // size is the size needed now
		case errors.Is(err, windows.ERROR_NOT_FOUND):
			return "", "", fmt.Errorf("%s for PID %d: no such process, it has exited (%w): %w", fn, r.PID, err, ErrNoModule)
		case errors.Is(err, windows.ERROR_ACCESS_DENIED):
			return "", "", fmt.Errorf("%s for PID %d: %w (%w)", fn, r.PID, ErrPermission, err)
		case errors.Is(err, windows.ERROR_PARTIAL_COPY):
			// Documented only as "only part of a request was completed".
			// Windows reads the owner's module list from the owner's memory,
			// which can fail part way for a 64-bit process read by a 32-bit
			// caller, a process that is exiting, or missing rights
			// (unverified: no Windows here). Not certainly a matter of
			// rights, so not ErrPermission.
			return "", "", fmt.Errorf("%s for PID %d: Windows answered only in part (%w); a 64-bit whobinds running as administrator may see it", fn, r.PID, err)
		default:
			return "", "", fmt.Errorf("%s for PID %d: %w", fn, r.PID, err)
		}
	}
	return "", "", fmt.Errorf("%s for PID %d: the answer grew between each of %d calls", fn, r.PID, maxTries)
}
