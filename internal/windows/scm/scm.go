// Package scm asks the Windows service control manager which services a
// process hosts and how a service is configured, with read-only rights (no
// elevation needed for the enumeration), and resolves the service tags that
// Windows socket tables carry to service names.
//
// This file holds the types and the portable decoding of the buffers the
// service control manager fills; the calls are in scm_windows.go, and
// scm_others.go makes every exported function fail with ErrNotSupported on
// other operating systems.
package scm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
)

// ErrNotSupported is wrapped by every error of this package on operating
// systems other than Windows.
var ErrNotSupported = errors.New("windows services are not supported on this operating system")

// ErrNotAvailable says a lookup cannot be made here: the Windows export it
// needs is missing, or the process runs under Wine, which stubs it.
var ErrNotAvailable = errors.New("not available on this system")

// Service states (SERVICE_STATUS.dwCurrentState, winsvc.h).
const (
	stateStopped         = 1
	stateStartPending    = 2
	stateStopPending     = 3
	stateRunning         = 4
	stateContinuePending = 5
	statePausePending    = 6
	statePaused          = 7
)

// Service types (winnt.h).
const (
	typeWin32OwnProcess   = 0x10
	typeWin32ShareProcess = 0x20
)

// Service is one Win32 service as the service control manager lists it.
type Service struct {
	// Name is the service's short (key) name, e.g. "Dnscache"; DisplayName
	// the name people see in services.msc.
	Name, DisplayName string
	// PID is the process the service runs in, 0 when it is not running.
	PID int
	// State is the service state: SERVICE_RUNNING = 4, ... (StateString
	// names it).
	State uint32
	// Type is the service type bit set: SERVICE_WIN32_OWN_PROCESS 0x10,
	// SERVICE_WIN32_SHARE_PROCESS 0x20, user services add 0x40 and 0x80.
	Type uint32
}

// Shared reports whether the service may share its process with other
// services (an svchost.exe group): then the process alone does not say
// which of them owns a socket.
func (s Service) Shared() bool { return s.Type&typeWin32ShareProcess != 0 }

// StateString names a service state as sc.exe does, in lower case:
// "running", "stopped", "start pending", ...
func StateString(state uint32) string {
	switch state {
	case stateStopped:
		return "stopped"
	case stateStartPending:
		return "start pending"
	case stateStopPending:
		return "stop pending"
	case stateRunning:
		return "running"
	case stateContinuePending:
		return "continue pending"
	case statePausePending:
		return "pause pending"
	case statePaused:
		return "paused"
	}
	return "state " + strconv.FormatUint(uint64(state), 10)
}

// Config is one service's configuration.
type Config struct {
	// StartType is "boot", "system", "auto", "auto (delayed)", "demand" or
	// "disabled". "auto" may really be delayed where the system did not say
	// (Wine refuses to).
	StartType string
	// BinaryPath is the command line the service control manager runs,
	// arguments included (svchost services: "...\svchost.exe -k group").
	BinaryPath string
	// Account is the account the service runs as ("LocalSystem",
	// "NT AUTHORITY\LocalService", ...).
	Account     string
	DisplayName string
	// Description is empty when the service has none or it could not be
	// read.
	Description string
}

// startTypeString names a start type (QUERY_SERVICE_CONFIG.dwStartType).
func startTypeString(start uint32, delayed bool) string {
	switch start {
	case 0:
		return "boot"
	case 1:
		return "system"
	case 2:
		if delayed {
			return "auto (delayed)"
		}
		return "auto"
	case 3:
		return "demand"
	case 4:
		return "disabled"
	}
	return "start type " + strconv.FormatUint(uint64(start), 10)
}

// A buffer the service control manager fills holds structures whose string
// pointers point into the same buffer. The decoders below take the buffer,
// the address it had when the system filled it (base) and the pointer size
// of the process (4 on 386, 8 on amd64 and arm64), turn each pointer into an
// offset and check it and the string it points to against the buffer: a bad
// buffer is an error, never a read outside it.

// enumEntrySize is sizeof(ENUM_SERVICE_STATUS_PROCESSW): two pointers and a
// SERVICE_STATUS_PROCESS (nine DWORDs), padded to pointer alignment: 56 bytes
// with 8-byte pointers, 44 with 4-byte ones (winsvc.h).
func enumEntrySize(ptrSize int) int {
	n := 2*ptrSize + 9*4
	return (n + ptrSize - 1) / ptrSize * ptrSize
}

// decodeEnum decodes n ENUM_SERVICE_STATUS_PROCESSW entries at the start of
// buf, as EnumServicesStatusExW(SC_ENUM_PROCESS_INFO) leaves them:
//
//	LPWSTR lpServiceName; LPWSTR lpDisplayName;
//	SERVICE_STATUS_PROCESS { dwServiceType, dwCurrentState, dwControlsAccepted,
//	    dwWin32ExitCode, dwServiceSpecificExitCode, dwCheckPoint, dwWaitHint,
//	    dwProcessId, dwServiceFlags }
func decodeEnum(buf []byte, base uint64, n, ptrSize int) ([]Service, error) {
	if ptrSize != 4 && ptrSize != 8 {
		return nil, fmt.Errorf("pointer size %d: want 4 or 8", ptrSize)
	}
	size := enumEntrySize(ptrSize)
	if n < 0 || n > len(buf)/size {
		return nil, fmt.Errorf("%d services of %d bytes do not fit in %d bytes", n, size, len(buf))
	}
	out := make([]Service, 0, n)
	for i := range n {
		e := buf[i*size : (i+1)*size]
		name, err := stringAt(buf, base, readPtr(e, ptrSize))
		if err != nil {
			return nil, fmt.Errorf("service %d: name: %w", i, err)
		}
		if name == "" {
			return nil, fmt.Errorf("service %d: empty name", i)
		}
		display, err := stringAt(buf, base, readPtr(e[ptrSize:], ptrSize))
		if err != nil {
			return nil, fmt.Errorf("service %q: display name: %w", name, err)
		}
		st := e[2*ptrSize:]
		out = append(out, Service{
			Name:        name,
			DisplayName: display,
			Type:        binary.LittleEndian.Uint32(st[0:]),
			State:       binary.LittleEndian.Uint32(st[4:]),
			PID:         int(binary.LittleEndian.Uint32(st[28:])),
		})
	}
	return out, nil
}

// rawConfig is QUERY_SERVICE_CONFIGW with its strings decoded.
type rawConfig struct {
	ServiceType, StartType uint32
	BinaryPath, Account    string
	DisplayName            string
}

// decodeQueryConfig decodes the QUERY_SERVICE_CONFIGW at the start of buf
// (winsvc.h):
//
//	DWORD dwServiceType, dwStartType, dwErrorControl;
//	LPWSTR lpBinaryPathName, lpLoadOrderGroup; DWORD dwTagId;
//	LPWSTR lpDependencies, lpServiceStartName, lpDisplayName;
//
// 64 bytes with 8-byte pointers (padding after dwErrorControl and dwTagId),
// 36 with 4-byte ones.
func decodeQueryConfig(buf []byte, base uint64, ptrSize int) (rawConfig, error) {
	var offBinary, offAccount, offDisplay, size int
	switch ptrSize {
	case 8:
		offBinary, offAccount, offDisplay, size = 16, 48, 56, 64
	case 4:
		offBinary, offAccount, offDisplay, size = 12, 28, 32, 36
	default:
		return rawConfig{}, fmt.Errorf("pointer size %d: want 4 or 8", ptrSize)
	}
	if len(buf) < size {
		return rawConfig{}, fmt.Errorf("service configuration: %d bytes, want at least %d", len(buf), size)
	}
	c := rawConfig{
		ServiceType: binary.LittleEndian.Uint32(buf[0:]),
		StartType:   binary.LittleEndian.Uint32(buf[4:]),
	}
	for _, f := range []struct {
		name string
		off  int
		dst  *string
	}{
		{"binary path", offBinary, &c.BinaryPath},
		{"account", offAccount, &c.Account},
		{"display name", offDisplay, &c.DisplayName},
	} {
		s, err := stringAt(buf, base, readPtr(buf[f.off:], ptrSize))
		if err != nil {
			return rawConfig{}, fmt.Errorf("service configuration: %s: %w", f.name, err)
		}
		*f.dst = s
	}
	return c, nil
}

// decodeDescription decodes the SERVICE_DESCRIPTIONW (one LPWSTR, NULL for
// no description) that QueryServiceConfig2W(SERVICE_CONFIG_DESCRIPTION)
// leaves at the start of buf.
func decodeDescription(buf []byte, base uint64, ptrSize int) (string, error) {
	if ptrSize != 4 && ptrSize != 8 {
		return "", fmt.Errorf("pointer size %d: want 4 or 8", ptrSize)
	}
	if len(buf) < ptrSize {
		return "", fmt.Errorf("service description: %d bytes, want at least %d", len(buf), ptrSize)
	}
	s, err := stringAt(buf, base, readPtr(buf, ptrSize))
	if err != nil {
		return "", fmt.Errorf("service description: %w", err)
	}
	return s, nil
}

// readPtr reads a little-endian pointer of ptrSize bytes; b must be at least
// that long.
func readPtr(b []byte, ptrSize int) uint64 {
	if ptrSize == 4 {
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// stringAt decodes the NUL-terminated UTF-16 string at address ptr, which
// must lie inside buf (whose first byte was at address base). A NULL
// pointer is the empty string.
func stringAt(buf []byte, base, ptr uint64) (string, error) {
	if ptr == 0 {
		return "", nil
	}
	if ptr < base || ptr-base >= uint64(len(buf)) {
		return "", fmt.Errorf("pointer %#x outside the buffer [%#x, %#x)", ptr, base, base+uint64(len(buf)))
	}
	b := buf[ptr-base:]
	var u []uint16
	for i := 0; ; i += 2 {
		if i+2 > len(b) {
			return "", fmt.Errorf("string at %#x: no NUL before the end of the buffer", ptr)
		}
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u)), nil
}
