package scm

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

// layout builds buffers the way the service control manager does: fixed
// structures first, then the strings they point to, with pointers that are
// addresses relative to base.
type layout struct {
	ptrSize int
	base    uint64
	buf     []byte
}

// str appends s as a NUL-terminated UTF-16 string and returns its address.
func (l *layout) str(s string) uint64 {
	p := l.base + uint64(len(l.buf))
	for _, c := range utf16.Encode([]rune(s)) {
		l.buf = binary.LittleEndian.AppendUint16(l.buf, c)
	}
	l.buf = append(l.buf, 0, 0)
	return p
}

func (l *layout) putPtr(off int, p uint64) {
	if l.ptrSize == 4 {
		binary.LittleEndian.PutUint32(l.buf[off:], uint32(p))
		return
	}
	binary.LittleEndian.PutUint64(l.buf[off:], p)
}

// encodeEnum lays out services as an array of ENUM_SERVICE_STATUS_PROCESSW.
func encodeEnum(ptrSize int, base uint64, ss []Service) []byte {
	size := enumEntrySize(ptrSize)
	l := &layout{ptrSize: ptrSize, base: base, buf: make([]byte, len(ss)*size)}
	for i, s := range ss {
		off := i * size
		l.putPtr(off, l.str(s.Name))
		l.putPtr(off+ptrSize, l.str(s.DisplayName))
		st := l.buf[off+2*ptrSize:]
		binary.LittleEndian.PutUint32(st[0:], s.Type)
		binary.LittleEndian.PutUint32(st[4:], s.State)
		binary.LittleEndian.PutUint32(st[8:], 0x5) // controls accepted: ignored
		binary.LittleEndian.PutUint32(st[28:], uint32(s.PID))
	}
	return l.buf
}

// encodeConfig lays out a QUERY_SERVICE_CONFIGW.
func encodeConfig(ptrSize int, base uint64, c rawConfig) []byte {
	offBinary, offAccount, offDisplay, size := 16, 48, 56, 64
	if ptrSize == 4 {
		offBinary, offAccount, offDisplay, size = 12, 28, 32, 36
	}
	l := &layout{ptrSize: ptrSize, base: base, buf: make([]byte, size)}
	binary.LittleEndian.PutUint32(l.buf[0:], c.ServiceType)
	binary.LittleEndian.PutUint32(l.buf[4:], c.StartType)
	binary.LittleEndian.PutUint32(l.buf[8:], 1) // error control: ignored
	l.putPtr(offBinary, l.str(c.BinaryPath))
	l.putPtr(offBinary+ptrSize, l.str("")) // load order group: ignored
	l.putPtr(offAccount, l.str(c.Account))
	l.putPtr(offDisplay, l.str(c.DisplayName))
	return l.buf
}

var twoServices = []Service{
	{Name: "Dnscache", DisplayName: "DNS Client", PID: 1234, State: stateRunning, Type: typeWin32ShareProcess},
	{Name: "WhobindsTestSvc", DisplayName: "Ünïcode 服务 𝄞", PID: 88, State: stateStopPending, Type: typeWin32OwnProcess},
}

func TestDecodeEnum(t *testing.T) {
	// One 386 entry written out byte by byte (44 bytes, strings at 44 and
	// 48), so the encoder above is not the only witness of the layout.
	literal386 := []byte{
		0x2c, 0x10, 0x00, 0x00, // lpServiceName = 0x102c
		0x30, 0x10, 0x00, 0x00, // lpDisplayName = 0x1030
		0x20, 0x00, 0x00, 0x00, // dwServiceType = SHARE_PROCESS
		0x04, 0x00, 0x00, 0x00, // dwCurrentState = RUNNING
		0x01, 0x00, 0x00, 0x00, // dwControlsAccepted
		0x00, 0x00, 0x00, 0x00, // dwWin32ExitCode
		0x00, 0x00, 0x00, 0x00, // dwServiceSpecificExitCode
		0x00, 0x00, 0x00, 0x00, // dwCheckPoint
		0x00, 0x00, 0x00, 0x00, // dwWaitHint
		0xdc, 0x00, 0x00, 0x00, // dwProcessId = 220
		0x00, 0x00, 0x00, 0x00, // dwServiceFlags
		'R', 0, 0, 0, // "R" @44
		'R', 0, 'P', 0, 'C', 0, 0, 0, // "RPC" @48
	}
	const base = 0x0000_7ff6_1234_0000
	cases := []struct {
		name    string
		buf     []byte
		base    uint64
		n       int
		ptrSize int
		want    []Service
		wantErr string
	}{
		{name: "amd64", buf: encodeEnum(8, base, twoServices), base: base, n: 2, ptrSize: 8, want: twoServices},
		{name: "386", buf: encodeEnum(4, 0x1000, twoServices), base: 0x1000, n: 2, ptrSize: 4, want: twoServices},
		{name: "386 literal", buf: literal386, base: 0x1000, n: 1, ptrSize: 4,
			want: []Service{{Name: "R", DisplayName: "RPC", PID: 220, State: 4, Type: 0x20}}},
		{name: "fewer than in the buffer", buf: encodeEnum(8, base, twoServices), base: base, n: 1, ptrSize: 8, want: twoServices[:1]},
		{name: "none", buf: nil, base: base, n: 0, ptrSize: 8, want: []Service{}},
		{name: "more than fit", buf: encodeEnum(8, base, twoServices), base: base, n: 3000, ptrSize: 8, wantErr: "do not fit"},
		{name: "negative count", buf: encodeEnum(8, base, twoServices), base: base, n: -1, ptrSize: 8, wantErr: "do not fit"},
		{name: "bad pointer size", buf: encodeEnum(8, base, twoServices), base: base, n: 2, ptrSize: 2, wantErr: "pointer size 2"},
		{name: "array shorter than an entry", buf: literal386[:43], base: 0x1000, n: 1, ptrSize: 4, wantErr: "do not fit"},
		{name: "name below the buffer", buf: withPtr(literal386, 0, 4, 0x0fff), base: 0x1000, n: 1, ptrSize: 4, wantErr: "outside the buffer"},
		{name: "name past the end", buf: withPtr(literal386, 0, 4, 0x1000+56), base: 0x1000, n: 1, ptrSize: 4, wantErr: "outside the buffer"},
		{name: "display name far away", buf: withPtr(literal386, 4, 4, 0xffff_fff0), base: 0x1000, n: 1, ptrSize: 4, wantErr: "display name: pointer"},
		{name: "name NULL", buf: withPtr(literal386, 0, 4, 0), base: 0x1000, n: 1, ptrSize: 4, wantErr: "empty name"},
		{name: "display name NULL", buf: withPtr(literal386, 4, 4, 0), base: 0x1000, n: 1, ptrSize: 4,
			want: []Service{{Name: "R", PID: 220, State: 4, Type: 0x20}}},
		{name: "unterminated", buf: literal386[:len(literal386)-2], base: 0x1000, n: 1, ptrSize: 4, wantErr: "no NUL"},
		{name: "odd last byte", buf: literal386[:len(literal386)-1], base: 0x1000, n: 1, ptrSize: 4, wantErr: "no NUL"},
		{name: "amd64 pointer above 4 GiB", buf: withPtr(encodeEnum(8, base, twoServices), 0, 8, base+1<<32), base: base, n: 2, ptrSize: 8, wantErr: "outside the buffer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeEnum(tc.buf, tc.base, tc.n, tc.ptrSize)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodeEnum(%d bytes, %#x, %d, %d) = %v, %v; want error containing %q", len(tc.buf), tc.base, tc.n, tc.ptrSize, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeEnum(%d bytes, %#x, %d, %d) = %v; want no error", len(tc.buf), tc.base, tc.n, tc.ptrSize, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decodeEnum() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// withPtr returns a copy of b with a pointer of size bytes at off.
func withPtr(b []byte, off, size int, p uint64) []byte {
	b = append([]byte(nil), b...)
	l := &layout{ptrSize: size, buf: b}
	l.putPtr(off, p)
	return b
}

func TestDecodeQueryConfig(t *testing.T) {
	c := rawConfig{
		ServiceType: typeWin32OwnProcess,
		StartType:   3,
		BinaryPath:  `"C:\Program Files\x\svc.exe" -service`,
		Account:     "LocalSystem",
		DisplayName: "Test service",
	}
	cases := []struct {
		name    string
		buf     []byte
		base    uint64
		ptrSize int
		want    rawConfig
		wantErr string
	}{
		{name: "amd64", buf: encodeConfig(8, 0x2_0000_0000, c), base: 0x2_0000_0000, ptrSize: 8, want: c},
		{name: "386", buf: encodeConfig(4, 0x40_0000, c), base: 0x40_0000, ptrSize: 4, want: c},
		{name: "amd64 short", buf: encodeConfig(8, 0, c)[:63], ptrSize: 8, wantErr: "63 bytes"},
		{name: "386 short", buf: encodeConfig(4, 0, c)[:35], ptrSize: 4, wantErr: "35 bytes"},
		{name: "account outside", buf: withPtr(encodeConfig(8, 0x100, c), 48, 8, 0x10), base: 0x100, ptrSize: 8, wantErr: "account: pointer"},
		{name: "NULL strings", buf: withPtr(withPtr(encodeConfig(4, 0x100, c), 28, 4, 0), 32, 4, 0), base: 0x100, ptrSize: 4,
			want: rawConfig{ServiceType: c.ServiceType, StartType: c.StartType, BinaryPath: c.BinaryPath}},
		{name: "bad pointer size", buf: encodeConfig(8, 0, c), ptrSize: 16, wantErr: "pointer size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeQueryConfig(tc.buf, tc.base, tc.ptrSize)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodeQueryConfig(%d bytes) = %+v, %v; want error containing %q", len(tc.buf), got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeQueryConfig(%d bytes) = %v; want no error", len(tc.buf), err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decodeQueryConfig() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeDescription(t *testing.T) {
	desc := func(ptrSize int, base uint64, s string) []byte {
		l := &layout{ptrSize: ptrSize, base: base, buf: make([]byte, ptrSize)}
		l.putPtr(0, l.str(s))
		return l.buf
	}
	cases := []struct {
		name    string
		buf     []byte
		ptrSize int
		want    string
		wantErr string
	}{
		{name: "amd64", buf: desc(8, 0x5000, "Resolves names."), ptrSize: 8, want: "Resolves names."},
		{name: "386", buf: desc(4, 0x5000, "Resolves names."), ptrSize: 4, want: "Resolves names."},
		{name: "NULL", buf: make([]byte, 8), ptrSize: 8, want: ""},
		{name: "short", buf: make([]byte, 3), ptrSize: 4, wantErr: "3 bytes"},
		{name: "outside", buf: withPtr(desc(8, 0x5000, "x"), 0, 8, 0x4000), ptrSize: 8, wantErr: "outside"},
		{name: "unterminated", buf: desc(8, 0x5000, "abc")[:14], ptrSize: 8, wantErr: "no NUL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeDescription(tc.buf, 0x5000, tc.ptrSize)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodeDescription(%x) = %q, %v; want error containing %q", tc.buf, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("decodeDescription(%x) = %q, %v; want %q", tc.buf, got, err, tc.want)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	states := map[uint32]string{1: "stopped", 2: "start pending", 3: "stop pending", 4: "running",
		5: "continue pending", 6: "pause pending", 7: "paused", 0: "state 0", 99: "state 99"}
	for st, want := range states {
		if got := StateString(st); got != want {
			t.Errorf("StateString(%d) = %q; want %q", st, got, want)
		}
	}
	starts := []struct {
		start   uint32
		delayed bool
		want    string
	}{
		{0, false, "boot"}, {1, false, "system"}, {2, false, "auto"}, {2, true, "auto (delayed)"},
		{3, false, "demand"}, {3, true, "demand"}, {4, false, "disabled"}, {9, false, "start type 9"},
	}
	for _, tc := range starts {
		if got := startTypeString(tc.start, tc.delayed); got != tc.want {
			t.Errorf("startTypeString(%d, %v) = %q; want %q", tc.start, tc.delayed, got, tc.want)
		}
	}
	for _, tc := range []struct {
		typ  uint32
		want bool
	}{{0x10, false}, {0x20, true}, {0x60, true}, {0x50, false}, {0x110, false}} {
		if got := (Service{Type: tc.typ}).Shared(); got != tc.want {
			t.Errorf("Service{Type: %#x}.Shared() = %v; want %v", tc.typ, got, tc.want)
		}
	}
}
