package iphlpapi

// This file holds the portable half of OwnerModule: which rows can have an
// owning module, and the decoder of the buffer GetOwnerModuleFrom*Entry
// fills, a TCPIP_OWNER_MODULE_BASIC_INFO followed by the strings its two
// pointers point to.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
)

// ownerModuleFuncs are the functions OwnerModule calls, per table.
var ownerModuleFuncs = [...]string{
	TCP4: "GetOwnerModuleFromTcpEntry",
	TCP6: "GetOwnerModuleFromTcp6Entry",
	UDP4: "GetOwnerModuleFromUdpEntry",
	UDP6: "GetOwnerModuleFromUdp6Entry",
}

// checkOwnerRow returns why r cannot have an owning module, or nil.
func checkOwnerRow(r *Row) error {
	if r == nil {
		return errors.New("owning module: no row")
	}
	if !r.Table.valid() {
		return fmt.Errorf("owning module: unknown table %d", r.Table)
	}
	switch r.PID {
	case 0:
		return fmt.Errorf("owning module of %s %v: PID 0 is no process (a TIME_WAIT leftover, or under Wine an owner Wine cannot see): %w",
			r.Table, r.Local, ErrNoModule)
	case 4:
		return fmt.Errorf("owning module of %s %v: PID 4 is System, the kernel (http.sys, SMB, NetBT): %w",
			r.Table, r.Local, ErrNoModule)
	}
	if len(r.raw) != layoutOf(r.Table, OwnerModuleAll).size {
		return fmt.Errorf("owning module of %s %v: the row has no owning-module information; read the table with an OwnerModule class",
			r.Table, r.Local)
	}
	return nil
}

// decodeOwnerModule decodes the buffer GetOwnerModuleFrom*Entry filled:
// TCPIP_OWNER_MODULE_BASIC_INFO (pModuleName, pModulePath: pointers of
// ptrSize bytes, little-endian) followed by NUL-terminated UTF-16 strings.
// base is the address of b[0] in memory; each non-nil pointer must point
// into b after the struct, and its string must end inside b.
func decodeOwnerModule(b []byte, base uint64, ptrSize int) (name, path string, err error) {
	if ptrSize != 4 && ptrSize != 8 {
		return "", "", fmt.Errorf("decoding owner module info: pointer size %d", ptrSize)
	}
	if len(b) < 2*ptrSize {
		return "", "", fmt.Errorf("decoding owner module info: %d bytes, want at least %d: %w", len(b), 2*ptrSize, io.ErrUnexpectedEOF)
	}
	ptr := func(i int) uint64 {
		if ptrSize == 4 {
			return uint64(binary.LittleEndian.Uint32(b[i*4:]))
		}
		return binary.LittleEndian.Uint64(b[i*8:])
	}
	if name, err = utf16At(b, base, ptr(0), 2*ptrSize); err != nil {
		return "", "", fmt.Errorf("decoding owner module name: %w", err)
	}
	if path, err = utf16At(b, base, ptr(1), 2*ptrSize); err != nil {
		return "", "", fmt.Errorf("decoding owner module path: %w", err)
	}
	return name, path, nil
}

var errUnterminated = errors.New("string not terminated inside the buffer")

// utf16At reads the NUL-terminated UTF-16LE string at address p, which
// must lie in b (at base) at or after offset min; p == 0 is "".
func utf16At(b []byte, base, p uint64, min int) (string, error) {
	if p == 0 {
		return "", nil
	}
	if p < base+uint64(min) || p-base >= uint64(len(b)) {
		return "", fmt.Errorf("pointer %#x outside the buffer [%#x, %#x)", p, base+uint64(min), base+uint64(len(b)))
	}
	s := b[p-base:]
	var u []uint16
	for i := 0; i+1 < len(s); i += 2 {
		c := binary.LittleEndian.Uint16(s[i:])
		if c == 0 {
			return string(utf16.Decode(u)), nil
		}
		u = append(u, c)
	}
	return "", errUnterminated
}
