package httpsys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/windows/wine"
)

// The decoders know the 64-bit layouts (amd64 and arm64 share them).
const ptrSize = unsafe.Sizeof(uintptr(0))

// netshTimeout bounds netsh when the caller's context has no deadline.
const netshTimeout = 15 * time.Second

func need64(what string) error {
	if ptrSize == 8 {
		return nil
	}
	return fmt.Errorf("%s: only the 64-bit layouts are known, not GOARCH=%s: %w", what, runtime.GOARCH, ErrNotSupported)
}

// ServiceState tries the IOCTL (needs elevation), then netsh (with a
// timeout from ctx, 15 s when ctx has none); the error says which failed
// and why (ErrNeedsAdmin: "run as administrator to see which process
// registered ..."). Image paths the sources leave out are filled in
// best-effort from the process IDs.
func ServiceState(ctx context.Context) (*State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, ioErr := readServiceState()
	if ioErr != nil {
		qs, nsErr := runNetsh(ctx)
		if nsErr != nil {
			return nil, fmt.Errorf("http.sys service state: IOCTL: %w; netsh: %w", ioErr, nsErr)
		}
		st = &State{Queues: qs, Source: SourceNetsh}
	}
	images := map[int]string{}
	for i := range st.Queues {
		for j := range st.Queues[i].Processes {
			p := &st.Queues[i].Processes[j]
			if p.Image == "" && p.PID != 0 {
				img, ok := images[p.PID]
				if !ok {
					img = processImage(p.PID)
					images[p.PID] = img
				}
				p.Image = img
			}
		}
	}
	return st, nil
}

// readServiceState asks http.sys itself (windows.md 3.1).
func readServiceState() (*State, error) {
	if err := need64("http.sys service-state IOCTL"); err != nil {
		return nil, err
	}
	for _, p := range []*windows.LazyProc{procNtCreateFile, procNtDeviceIoControlFile} {
		if err := p.Find(); err != nil {
			return nil, fmt.Errorf("ntdll.dll has no %s: %w", p.Name, ErrNotAvailable)
		}
	}
	const device = `\Device\Http\Communication`
	name, err := windows.NewNTUnicodeString(device)
	if err != nil {
		return nil, err
	}
	oa := windows.OBJECT_ATTRIBUTES{ObjectName: name, Attributes: windows.OBJ_CASE_INSENSITIVE}
	oa.Length = uint32(unsafe.Sizeof(oa))
	var ea [6]uint64 // FILE_FULL_EA_INFORMATION, 8-byte aligned
	eaBytes := openPacketEA(2, 0)
	copy(asBytes(ea[:]), eaBytes)
	var h windows.Handle
	var iosb windows.IO_STATUS_BLOCK
	err = ntCreateFile(&h, windows.FILE_GENERIC_READ|windows.FILE_GENERIC_WRITE, &oa, &iosb, nil, 0,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, windows.FILE_CREATE, windows.FILE_SYNCHRONOUS_IO_NONALERT,
		unsafe.Pointer(&ea[0]), uint32(len(eaBytes)))
	switch {
	case err == nil:
	case err == windows.STATUS_ACCESS_DENIED && !windows.GetCurrentProcessToken().IsElevated():
		return nil, fmt.Errorf("opening %s: %w", device, ErrNeedsAdmin)
	case err == windows.STATUS_OBJECT_PATH_NOT_FOUND || err == windows.STATUS_OBJECT_NAME_NOT_FOUND:
		why := "the HTTP driver is not running"
		if wine.Detected() {
			why = "Wine 8 has no such device"
		}
		return nil, fmt.Errorf("opening %s (%s): %w", device, why, ErrNotAvailable)
	default:
		return nil, fmt.Errorf("opening %s: %w", device, err)
	}
	defer windows.CloseHandle(h)

	var in [serviceStateInSize / 8]uint64 // HTTP_MGMT_ROOT_INFO, all zero
	size := uint64(64 << 10)
	for range 8 {
		buf := make([]uint64, size/8)
		iosb = windows.IO_STATUS_BLOCK{}
		err := ntDeviceIoControlFile(h, 0, 0, 0, &iosb, serviceStateIOCTL,
			unsafe.Pointer(&in[0]), serviceStateInSize, unsafe.Pointer(&buf[0]), uint32(size))
		switch err {
		case nil:
			st, err := ParseServiceState(asBytes(buf), uint64(uintptr(unsafe.Pointer(&buf[0]))))
			runtime.KeepAlive(buf)
			if err != nil {
				return nil, fmt.Errorf("decoding the http.sys service state: %w", err)
			}
			return st, nil
		case windows.STATUS_BUFFER_OVERFLOW, windows.STATUS_BUFFER_TOO_SMALL:
			next := (uint64(iosb.Information) + 7) &^ 7
			if next <= size {
				next = 2 * size
			}
			if next > serviceStateMaxSize {
				return nil, fmt.Errorf("the http.sys service state wants %d bytes, more than %d: %w", next, serviceStateMaxSize, ErrUnknownLayout)
			}
			size = next
		case windows.STATUS_ACCESS_DENIED:
			if !windows.GetCurrentProcessToken().IsElevated() {
				return nil, fmt.Errorf("reading the http.sys service state: %w", ErrNeedsAdmin)
			}
			return nil, fmt.Errorf("reading the http.sys service state: %w", err)
		default:
			return nil, fmt.Errorf("reading the http.sys service state (IOCTL %#x): %w", serviceStateIOCTL, err)
		}
	}
	return nil, fmt.Errorf("the http.sys service state kept growing past %d bytes", size)
}

// runNetsh parses `netsh http show servicestate view=requestq verbose=no`.
func runNetsh(ctx context.Context) ([]Queue, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, netshTimeout)
		defer cancel()
	}
	dir, err := windows.GetSystemDirectory()
	if err != nil {
		return nil, fmt.Errorf("finding netsh: %w", err)
	}
	exe := filepath.Join(dir, "netsh.exe")
	cmd := exec.CommandContext(ctx, exe, "http", "show", "servicestate", "view=requestq", "verbose=no")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("running %s: %w", exe, ctx.Err())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("%s exited with status %d: %s", exe, ee.ExitCode(), firstLine(out, stderr.Bytes()))
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
			return nil, fmt.Errorf("running %s: %w: %w", exe, ErrNotAvailable, err)
		}
		return nil, fmt.Errorf("running %s: %w", exe, err)
	}
	qs, err := ParseNetsh(string(out))
	if errors.Is(err, ErrNoOutput) && wine.Detected() {
		return nil, fmt.Errorf("Wine's netsh is a stub: %w", err)
	}
	return qs, err
}

func firstLine(bs ...[]byte) string {
	for _, b := range bs {
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				return l
			}
		}
	}
	return "no output"
}

// processImage returns the executable of pid, or "" when it cannot be read.
func processImage(pid int) string {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(h)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return ""
	}
	return windows.UTF16ToString(buf[:n])
}

// URLACLs lists the URL reservations (netsh http show urlacl). Under Wine
// 8, whose HttpQueryServiceConfiguration is a stub, it returns
// ErrNotAvailable: never "no reservations".
func URLACLs() ([]URLACL, error) {
	var acls []URLACL
	err := configRecords("URL reservations", configURLACL, func(b []byte, base uint64) error {
		a, err := parseURLACLSet(b, base)
		acls = append(acls, a)
		return err
	})
	if err != nil {
		return nil, err
	}
	return acls, nil
}

// SSLCerts lists the certificate bindings, ip:port ones first, then the
// hostname:port (SNI) ones where Windows has them (8 and later).
func SSLCerts() ([]SSLCert, error) {
	var certs []SSLCert
	err := configRecords("certificate bindings", configSSLCert, func(b []byte, base uint64) error {
		c, err := parseSSLSet(b, base)
		certs = append(certs, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = configRecords("SNI certificate bindings", configSSLSNICert, func(b []byte, base uint64) error {
		c, err := parseSSLSNISet(b, base)
		certs = append(certs, c)
		return err
	})
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) || errors.Is(err, windows.ERROR_NOT_SUPPORTED) {
		err = nil // a Windows without SNI bindings
	}
	if err != nil {
		return nil, err
	}
	return certs, nil
}

// IPListen returns the listen-only list; empty means every address.
func IPListen() ([]netip.Addr, error) {
	var addrs []netip.Addr
	err := withConfig("IP listen list", func() error {
		b, _, err := queryConfig(configIPListen, nil)
		if err == windows.ERROR_FILE_NOT_FOUND || err == windows.ERROR_NO_MORE_ITEMS {
			if wine.Detected() {
				return fmt.Errorf("HttpQueryServiceConfiguration is a stub under Wine 8 (%w): %w", err, ErrNotAvailable)
			}
			return nil
		}
		if err != nil {
			return err
		}
		addrs, err = parseIPListen(b)
		return err
	})
	return addrs, err
}

// withConfig runs fn between HttpInitialize(1.0, HTTP_INITIALIZE_CONFIG)
// and HttpTerminate.
func withConfig(what string, fn func() error) error {
	if err := need64("http.sys " + what); err != nil {
		return err
	}
	for _, p := range []*windows.LazyProc{procHttpInitialize, procHttpTerminate, procHttpQueryServiceConfiguration} {
		if err := p.Find(); err != nil {
			return fmt.Errorf("http.sys %s: httpapi.dll lacks %s: %w", what, p.Name, ErrNotAvailable)
		}
	}
	const httpapiVersion1, initializeConfig = 1, 2
	if err := httpInitialize(httpapiVersion1, initializeConfig, 0); err != nil {
		return fmt.Errorf("http.sys %s: HttpInitialize: %w", what, err)
	}
	defer httpTerminate(initializeConfig, 0)
	if err := fn(); err != nil {
		return fmt.Errorf("http.sys %s: %w", what, err)
	}
	return nil
}

// maxRecords caps an enumeration that never says it is done.
const maxRecords = 1 << 16

// configRecords enumerates configID with Next queries (Token 0, 1, 2, ...)
// until ERROR_NO_MORE_ITEMS and decodes each record.
func configRecords(what string, configID int, decode func(b []byte, base uint64) error) error {
	return withConfig(what, func() error {
		for token := uint32(0); token < maxRecords; token++ {
			b, base, err := queryConfig(configID, nextQuery(configID, token))
			switch {
			case err == nil:
			case err == windows.ERROR_NO_MORE_ITEMS, err == windows.ERROR_FILE_NOT_FOUND:
				// ERROR_FILE_NOT_FOUND for the first Next query means no
				// records on Windows; under Wine 8 it is all the stub says.
				if token == 0 && wine.Detected() {
					return fmt.Errorf("HttpQueryServiceConfiguration is a stub under Wine 8 (%w): %w", err, ErrNotAvailable)
				}
				return nil
			default:
				return fmt.Errorf("record %d: %w", token, err)
			}
			if err := decode(b, base); err != nil {
				return fmt.Errorf("record %d: %w", token, err)
			}
		}
		return fmt.Errorf("more than %d records", maxRecords)
	})
}

// queryConfig calls HttpQueryServiceConfiguration with input, growing an
// 8-byte aligned output buffer until the record fits. It returns the whole
// buffer and its address: the record's pointers point into it.
func queryConfig(configID int, input []byte) ([]byte, uint64, error) {
	var in unsafe.Pointer
	var aligned []uint64
	if len(input) > 0 {
		aligned = make([]uint64, (len(input)+7)/8)
		copy(asBytes(aligned), input)
		in = unsafe.Pointer(&aligned[0])
	}
	size := uint32(4 << 10)
	for range 8 {
		out := make([]uint64, size/8)
		var n uint32
		err := httpQueryServiceConfiguration(0, uint32(configID), in, uint32(len(input)), unsafe.Pointer(&out[0]), size, &n, nil)
		runtime.KeepAlive(aligned)
		switch err {
		case nil:
			return asBytes(out), uint64(uintptr(unsafe.Pointer(&out[0]))), nil
		case windows.ERROR_INSUFFICIENT_BUFFER, windows.ERROR_MORE_DATA:
			next := (n + 7) &^ 7
			if next <= size {
				next = 2 * size
			}
			if next > 16<<20 {
				return nil, 0, fmt.Errorf("a record of %d bytes: %w", next, ErrUnknownLayout)
			}
			size = next
		default:
			return nil, 0, err
		}
	}
	return nil, 0, errors.New("the record kept growing")
}

// asBytes views an 8-byte aligned buffer as bytes.
func asBytes(u []uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&u[0])), len(u)*8)
}
