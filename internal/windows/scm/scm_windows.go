package scm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/windows/wine"
)

// ptrSize is the size of a pointer in the buffers the system fills for this
// process.
const ptrSize = int(unsafe.Sizeof(uintptr(0)))

// Manager is the service control manager opened with read-only rights
// (SC_MANAGER_CONNECT|SC_MANAGER_ENUMERATE_SERVICE), which every
// authenticated user has. x/sys's mgr.Connect asks for full rights and fails
// without elevation; this does not. A Manager may be used by one goroutine
// at a time.
type Manager struct {
	h windows.Handle
}

// Open connects to the local service control manager.
func Open() (*Manager, error) {
	h, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT|windows.SC_MANAGER_ENUMERATE_SERVICE)
	if err != nil {
		return nil, fmt.Errorf("opening the service control manager: %w", denied(err, "services"))
	}
	return &Manager{h: h}, nil
}

// Close releases the connection.
func (m *Manager) Close() error {
	if err := windows.CloseServiceHandle(m.h); err != nil {
		return fmt.Errorf("closing the service control manager: %w", err)
	}
	return nil
}

const (
	// enumMaxBuf is the most EnumServicesStatusExW fills in one call
	// (256 KiB, per its documentation); more needs the resume handle.
	enumMaxBuf = 256 << 10
	// enumMaxCalls bounds the resume loop: 64 full buffers are far more
	// services than any system has.
	enumMaxCalls = 64
)

// ByPID maps the PID of every running Win32 service to the services it
// hosts, sorted by name. Services that are active but have no process (PID
// 0, e.g. while starting) are left out. A shared svchost.exe maps to several
// services; the socket's service tag (NameFromTag) says which one owns it.
func (m *Manager) ByPID() (map[int][]Service, error) {
	all, err := m.enum(windows.SERVICE_WIN32, windows.SERVICE_ACTIVE)
	if err != nil {
		return nil, err
	}
	by := make(map[int][]Service)
	for _, s := range all {
		if s.PID != 0 {
			by[s.PID] = append(by[s.PID], s)
		}
	}
	for _, ss := range by {
		slices.SortFunc(ss, func(a, b Service) int { return strings.Compare(a.Name, b.Name) })
	}
	return by, nil
}

// enum lists services with EnumServicesStatusExW(SC_ENUM_PROCESS_INFO),
// following the resume handle while the system reports ERROR_MORE_DATA.
func (m *Manager) enum(typ, state uint32) ([]Service, error) {
	var (
		all    []Service
		resume uint32
		buf    = alignedBuf(32 << 10)
	)
	for range enumMaxCalls {
		var needed, n uint32
		err := windows.EnumServicesStatusEx(m.h, windows.SC_ENUM_PROCESS_INFO, typ, state,
			&buf[0], uint32(len(buf)), &needed, &n, &resume, nil)
		if err != nil && !errors.Is(err, windows.ERROR_MORE_DATA) {
			return nil, fmt.Errorf("listing services: %w", denied(err, "services"))
		}
		got, derr := decodeEnum(buf, addr(buf), int(n), ptrSize)
		if derr != nil {
			return nil, fmt.Errorf("listing services: %w", derr)
		}
		all = append(all, got...)
		if err == nil {
			return all, nil
		}
		if n == 0 {
			// Not even one entry fit: grow, within the documented limit.
			if len(buf) >= enumMaxBuf {
				return nil, fmt.Errorf("listing services: no entry fits in %d bytes", len(buf))
			}
			buf = alignedBuf(min(max(int(needed), 2*len(buf)), enumMaxBuf))
		}
	}
	return nil, fmt.Errorf("listing services: still more after %d calls", enumMaxCalls)
}

// Config reads the configuration of the service called name (its short
// name). Only QueryServiceConfigW must succeed; the description and the
// delayed-start flag are read when the system answers (Wine 8 does not tell
// whether an auto-start service is delayed).
func (m *Manager) Config(name string) (Config, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return Config{}, fmt.Errorf("service %q: %w", name, err)
	}
	h, err := windows.OpenService(m.h, p, windows.SERVICE_QUERY_CONFIG|windows.SERVICE_QUERY_STATUS)
	if err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
			return Config{}, fmt.Errorf("service %q: no such service: %w", name, err)
		}
		return Config{}, fmt.Errorf("opening service %q: %w", name, denied(err, "its configuration"))
	}
	defer windows.CloseServiceHandle(h)

	buf, err := query(1024, func(b *byte, size uint32, needed *uint32) error {
		return windows.QueryServiceConfig(h, (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(b)), size, needed)
	})
	if err != nil {
		return Config{}, fmt.Errorf("reading the configuration of service %q: %w", name, denied(err, "its configuration"))
	}
	raw, err := decodeQueryConfig(buf, addr(buf), ptrSize)
	if err != nil {
		return Config{}, fmt.Errorf("service %q: %w", name, err)
	}
	var delayed bool
	if b, err := query(8, func(b *byte, size uint32, needed *uint32) error {
		return windows.QueryServiceConfig2(h, windows.SERVICE_CONFIG_DELAYED_AUTO_START_INFO, b, size, needed)
	}); err == nil && len(b) >= 4 {
		delayed = binary.LittleEndian.Uint32(b) != 0
	}
	c := Config{
		StartType:   startTypeString(raw.StartType, delayed),
		BinaryPath:  raw.BinaryPath,
		Account:     raw.Account,
		DisplayName: raw.DisplayName,
	}
	if b, err := query(512, func(b *byte, size uint32, needed *uint32) error {
		return windows.QueryServiceConfig2(h, windows.SERVICE_CONFIG_DESCRIPTION, b, size, needed)
	}); err == nil {
		if d, err := decodeDescription(b, addr(b), ptrSize); err == nil {
			c.Description = d
		}
	}
	return c, nil
}

// NameFromTag resolves the service tag of a socket (OwningModuleInfo[0] of
// the OWNER_MODULE socket tables) in process pid to the short name of the
// service that opened it, with advapi32.dll's I_QueryTagInformation. It
// fails with ErrNotAvailable when advapi32.dll lacks the export and under
// Wine, whose stub aborts the process.
func NameFromTag(pid, tag uint32) (string, error) {
	if wine.Detected() {
		return "", fmt.Errorf("service tag %d of PID %d: Wine stubs I_QueryTagInformation: %w", tag, pid, ErrNotAvailable)
	}
	if err := procI_QueryTagInformation.Find(); err != nil {
		return "", fmt.Errorf("service tag %d of PID %d: advapi32.dll has no I_QueryTagInformation: %w", tag, pid, ErrNotAvailable)
	}
	if tag == 0 {
		return "", fmt.Errorf("PID %d: service tag 0 is no service", pid)
	}
	info := tagInfoNameFromTag{PID: pid, Tag: tag}
	if err := queryTagInformation(nil, tagInfoLevelNameFromTag, &info); err != nil {
		return "", fmt.Errorf("resolving service tag %d of PID %d: %w", tag, pid, denied(err, "service tags"))
	}
	if info.Name == nil {
		return "", fmt.Errorf("resolving service tag %d of PID %d: the system returned no name", tag, pid)
	}
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(info.Name)))
	return windows.UTF16PtrToString(info.Name), nil
}

// query calls a function that fills a buffer and reports the size it needs
// with ERROR_INSUFFICIENT_BUFFER, growing the buffer a few times.
func query(size int, f func(b *byte, size uint32, needed *uint32) error) ([]byte, error) {
	buf := alignedBuf(size)
	for range 4 {
		var needed uint32
		err := f(&buf[0], uint32(len(buf)), &needed)
		if err == nil {
			return buf, nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || int(needed) <= len(buf) {
			return nil, err
		}
		buf = alignedBuf(int(needed))
	}
	return nil, errors.New("the needed buffer size kept growing")
}

// alignedBuf returns n bytes (at least 8) aligned for the structures the
// system writes into them.
func alignedBuf(n int) []byte {
	u := make([]uint64, max(n+7, 8)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&u[0])), len(u)*8)
}

// addr is the address of b's first byte, the base its pointers refer to.
func addr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

// denied adds what the user can do to an access-denied error.
func denied(err error, what string) error {
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return fmt.Errorf("%w (run as administrator to see %s)", err, what)
	}
	return err
}
