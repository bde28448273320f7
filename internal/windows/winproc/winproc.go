// Package winproc reads what Windows tells about a process: its name and
// parent from a Toolhelp snapshot, its executable, command line, user and
// start time from the process itself, and its parent chain. What cannot be
// read (access denied to another user's process without elevation, an
// exited process) is said in model.Process.Unreadable, never guessed.
//
// This file holds the portable parts: the parent-chain walk and the
// decoding of the command-line buffer. The calls are in winproc_windows.go;
// winproc_others.go makes every function fail with ErrNotSupported on other
// operating systems.
package winproc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"time"
	"unicode/utf16"

	"github.com/whobinds/whobinds/internal/model"
)

// ErrNotSupported is wrapped by every error of this package on operating
// systems other than Windows.
var ErrNotSupported = errors.New("windows processes are not supported on this operating system")

// Entry is one process of a Toolhelp32 snapshot.
type Entry struct {
	PID, PPID int
	// Name is the executable's file name ("svchost.exe").
	Name string
}

// The processes Windows has without an executable: Details names them
// without opening them.
const (
	pidIdle   = 0
	pidSystem = 4
)

// maxAncestors bounds the parent walk.
const maxAncestors = 64

// ancestors returns the parent chain of pid from the snapshot all, nearest
// first. start is pid's creation time (zero when unknown); inspect returns a
// process's creation time (zero when unreadable) and command line (nil when
// unreadable).
//
// Windows keeps a process's parent PID after the parent exits, and PIDs are
// reused, so a "parent" may be a later process that got the PID. The chain
// therefore stops at a parent created after the process it would be the
// parent of (compared with the latest creation time known below it), at a
// parent that is not in the snapshot, at PID 0 (no parent) and after PID 4
// (System, the root of every chain).
func ancestors(pid int, start time.Time, all map[int]Entry, inspect func(pid int) (time.Time, []string)) []model.Ancestor {
	e, ok := all[pid]
	if !ok {
		return nil
	}
	var chain []model.Ancestor
	seen := map[int]bool{pid: true}
	bound := start // creation time of the nearest descendant where known
	for cur := e.PPID; len(chain) < maxAncestors && cur != pidIdle && !seen[cur]; {
		p, ok := all[cur]
		if !ok {
			break
		}
		created, cmdline := inspect(cur)
		if !created.IsZero() && !bound.IsZero() && created.After(bound) {
			break // a reused PID, not the parent
		}
		chain = append(chain, model.Ancestor{PID: cur, Name: p.Name, Cmdline: cmdline})
		if cur == pidSystem {
			break
		}
		if !created.IsZero() {
			bound = created
		}
		seen[cur] = true
		cur = p.PPID
	}
	return chain
}

// decodeUnicodeString decodes the UNICODE_STRING at the start of buf, whose
// Buffer points into buf itself, as NtQueryInformationProcess leaves it for
// ProcessCommandLineInformation. base is the address buf had when the
// system filled it.
func decodeUnicodeString(buf []byte, base uint64, ptrSize int) (string, error) {
	n, p, err := unicodeStringHeader(buf, ptrSize)
	if err != nil || n == 0 {
		return "", err
	}
	if p < base || p-base > uint64(len(buf)) || uint64(n) > uint64(len(buf))-(p-base) {
		return "", fmt.Errorf("UNICODE_STRING: %d bytes at %#x outside the buffer [%#x, %#x)", n, p, base, base+uint64(len(buf)))
	}
	return decodeUTF16(buf[p-base : p-base+uint64(n)])
}

// unicodeStringHeader decodes the length in bytes and the Buffer address of
// the UNICODE_STRING at the start of b (winternl.h):
//
//	USHORT Length;        // bytes, without a terminating NUL
//	USHORT MaximumLength;
//	PWSTR  Buffer;        // at offset 8 with 8-byte pointers, 4 with 4-byte ones
func unicodeStringHeader(b []byte, ptrSize int) (n int, buffer uint64, err error) {
	if ptrSize != 4 && ptrSize != 8 {
		return 0, 0, fmt.Errorf("pointer size %d: want 4 or 8", ptrSize)
	}
	if len(b) < 2*ptrSize {
		return 0, 0, fmt.Errorf("UNICODE_STRING: %d bytes, want at least %d", len(b), 2*ptrSize)
	}
	n = int(binary.LittleEndian.Uint16(b))
	if n%2 != 0 {
		return 0, 0, fmt.Errorf("UNICODE_STRING: odd length %d", n)
	}
	return n, readPtr(b[ptrSize:], ptrSize), nil
}

// decodeUTF16 decodes little-endian UTF-16 without a terminating NUL.
func decodeUTF16(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("UTF-16: odd length %d", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// readPtr reads a little-endian pointer of ptrSize bytes; b must be at least
// that long.
func readPtr(b []byte, ptrSize int) uint64 {
	if ptrSize == 4 {
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// cmdlineFromPEB reads a process's command line from its memory, where
// ProcessCommandLineInformation does not exist (Wine 8, Windows before 8.1):
// PEB.ProcessParameters, then RTL_USER_PROCESS_PARAMETERS.CommandLine, then
// the characters. read returns exactly n bytes at an address of the process
// (ReadProcessMemory) or an error. Offsets from phnt (ntpebteb.h, ntrtl.h),
// the same on Windows and Wine:
//
//	PEB.ProcessParameters                        0x20 (8-byte pointers), 0x10 (4-byte)
//	RTL_USER_PROCESS_PARAMETERS.CommandLine      0x70,                   0x40
func cmdlineFromPEB(read func(addr uint64, n int) ([]byte, error), peb uint64, ptrSize int) (string, error) {
	paramsOff, cmdlineOff := uint64(0x20), uint64(0x70)
	switch ptrSize {
	case 8:
	case 4:
		paramsOff, cmdlineOff = 0x10, 0x40
	default:
		return "", fmt.Errorf("pointer size %d: want 4 or 8", ptrSize)
	}
	if peb == 0 {
		return "", errors.New("the process has no PEB")
	}
	b, err := readExactly(read, peb+paramsOff, ptrSize)
	if err != nil {
		return "", fmt.Errorf("reading PEB.ProcessParameters: %w", err)
	}
	params := readPtr(b, ptrSize)
	if params == 0 {
		return "", errors.New("the process has no parameters block yet")
	}
	if b, err = readExactly(read, params+cmdlineOff, 2*ptrSize); err != nil {
		return "", fmt.Errorf("reading the command line's UNICODE_STRING: %w", err)
	}
	n, p, err := unicodeStringHeader(b, ptrSize)
	if err != nil || n == 0 {
		return "", err
	}
	if b, err = readExactly(read, p, n); err != nil {
		return "", fmt.Errorf("reading the command line: %w", err)
	}
	return decodeUTF16(b)
}

func readExactly(read func(addr uint64, n int) ([]byte, error), addr uint64, n int) ([]byte, error) {
	b, err := read(addr, n)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, fmt.Errorf("read %d bytes at %#x, want %d", len(b), addr, n)
	}
	return b, nil
}

// unreadable says what could not be read and why, for
// model.Process.Unreadable.
func unreadable(what string, err error) string {
	if errors.Is(err, fs.ErrPermission) {
		return what + ": access denied (run as administrator to see it)"
	}
	return what + ": " + err.Error()
}
