package winproc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/model"
)

func TestAncestors(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	// A boot as Windows builds it: System(4) → smss → (exited) → wininit →
	// services → svchost → a child; explorer's parent PID 600 was reused by
	// a later process.
	all := map[int]Entry{
		0:    {PID: 0, PPID: 0, Name: "[System Process]"},
		4:    {PID: 4, PPID: 0, Name: "System"},
		300:  {PID: 300, PPID: 4, Name: "smss.exe"},
		500:  {PID: 500, PPID: 400, Name: "wininit.exe"}, // 400 (smss child) exited
		640:  {PID: 640, PPID: 500, Name: "services.exe"},
		900:  {PID: 900, PPID: 640, Name: "svchost.exe"},
		1200: {PID: 1200, PPID: 900, Name: "child.exe"},
		600:  {PID: 600, PPID: 640, Name: "reused.exe"},
		3000: {PID: 3000, PPID: 600, Name: "explorer.exe"},
		7000: {PID: 7000, PPID: 7001, Name: "a.exe"}, // a cycle, as PID reuse can make one
		7001: {PID: 7001, PPID: 7000, Name: "b.exe"},
		8000: {PID: 8000, PPID: 4, Name: "Registry"},
	}
	created := map[int]time.Time{
		4: at(0), 300: at(0), 500: at(1), 640: at(1), 900: at(2), 1200: at(30),
		600: at(40), 3000: at(10), // 600 is younger than its "child"
	}
	cmdlines := map[int][]string{640: {`C:\Windows\system32\services.exe`}, 900: {"svchost.exe", "-k", "netsvcs"}}
	inspect := func(pid int) (time.Time, []string) { return created[pid], cmdlines[pid] }
	noTimes := func(pid int) (time.Time, []string) { return time.Time{}, nil }

	cases := []struct {
		name    string
		pid     int
		start   time.Time
		inspect func(int) (time.Time, []string)
		want    []model.Ancestor
	}{
		{name: "service child up to wininit", pid: 1200, start: at(30), inspect: inspect, want: []model.Ancestor{
			{PID: 900, Name: "svchost.exe", Cmdline: []string{"svchost.exe", "-k", "netsvcs"}},
			{PID: 640, Name: "services.exe", Cmdline: []string{`C:\Windows\system32\services.exe`}},
			{PID: 500, Name: "wininit.exe"},
		}},
		{name: "ends after System", pid: 300, start: at(0), inspect: inspect, want: []model.Ancestor{{PID: 4, Name: "System"}}},
		{name: "System's own parent is 0", pid: 4, start: at(0), inspect: inspect, want: nil},
		{name: "reused parent PID", pid: 3000, start: at(10), inspect: inspect, want: nil},
		{name: "reused parent PID, own start unknown", pid: 3000, inspect: inspect, want: []model.Ancestor{
			{PID: 600, Name: "reused.exe"},
			{PID: 640, Name: "services.exe", Cmdline: []string{`C:\Windows\system32\services.exe`}},
			{PID: 500, Name: "wininit.exe"},
		}},
		{name: "times unreadable: trust the snapshot", pid: 3000, start: at(10), inspect: noTimes, want: []model.Ancestor{
			{PID: 600, Name: "reused.exe"}, {PID: 640, Name: "services.exe"}, {PID: 500, Name: "wininit.exe"},
		}},
		{name: "cycle", pid: 7000, inspect: noTimes, want: []model.Ancestor{{PID: 7001, Name: "b.exe"}}},
		{name: "not in the snapshot", pid: 12345, inspect: inspect, want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ancestors(tc.pid, tc.start, all, tc.inspect)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ancestors(%d) mismatch (-want +got):\n%s", tc.pid, diff)
			}
		})
	}
}

// TestAncestorsSkippedTime checks that a parent whose time is unreadable
// does not hide a reused PID further up: the grandparent is compared with
// the child.
func TestAncestorsSkippedTime(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	all := map[int]Entry{
		10: {PID: 10, PPID: 20, Name: "child.exe"},
		20: {PID: 20, PPID: 30, Name: "parent.exe"},
		30: {PID: 30, PPID: 4, Name: "reused.exe"},
		4:  {PID: 4, Name: "System"},
	}
	created := map[int]time.Time{10: t0, 30: t0.Add(time.Hour)}
	got := ancestors(10, t0, all, func(pid int) (time.Time, []string) { return created[pid], nil })
	want := []model.Ancestor{{PID: 20, Name: "parent.exe"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ancestors(10) mismatch (-want +got):\n%s", diff)
	}
}

// encodeUnicodeString lays out a UNICODE_STRING followed by its characters,
// as NtQueryInformationProcess does.
func encodeUnicodeString(ptrSize int, base uint64, s string) []byte {
	u := utf16.Encode([]rune(s))
	buf := make([]byte, 2*ptrSize, 2*ptrSize+2*len(u)+2)
	binary.LittleEndian.PutUint16(buf[0:], uint16(2*len(u)))
	binary.LittleEndian.PutUint16(buf[2:], uint16(2*len(u)+2))
	p := base + uint64(2*ptrSize)
	if ptrSize == 4 {
		binary.LittleEndian.PutUint32(buf[4:], uint32(p))
	} else {
		binary.LittleEndian.PutUint64(buf[8:], p)
	}
	for _, c := range u {
		buf = binary.LittleEndian.AppendUint16(buf, c)
	}
	return append(buf, 0, 0)
}

func TestDecodeUnicodeString(t *testing.T) {
	const cmd = `"C:\Program Files\x\x.exe" -test.v -test.run=^TestX$ ünï 𝄞`
	// 386, written out: Length 6, MaximumLength 8, Buffer 0x2008, "a b".
	literal386 := []byte{6, 0, 8, 0, 0x08, 0x20, 0, 0, 'a', 0, ' ', 0, 'b', 0, 0, 0}
	setPtr := func(b []byte, off int, p uint64) []byte {
		b = append([]byte(nil), b...)
		binary.LittleEndian.PutUint64(b[off:], p)
		return b
	}
	cases := []struct {
		name    string
		buf     []byte
		base    uint64
		ptrSize int
		want    string
		wantErr string
	}{
		{name: "amd64", buf: encodeUnicodeString(8, 0x1_0000_0000, cmd), base: 0x1_0000_0000, ptrSize: 8, want: cmd},
		{name: "386", buf: encodeUnicodeString(4, 0x2000, cmd), base: 0x2000, ptrSize: 4, want: cmd},
		{name: "386 literal", buf: literal386, base: 0x2000, ptrSize: 4, want: "a b"},
		{name: "empty", buf: encodeUnicodeString(8, 0x1000, ""), base: 0x1000, ptrSize: 8, want: ""},
		{name: "empty NULL buffer", buf: make([]byte, 16), base: 0x1000, ptrSize: 8, want: ""},
		{name: "short header", buf: literal386[:7], base: 0x2000, ptrSize: 4, wantErr: "7 bytes"},
		{name: "length past the end", buf: literal386[:12], base: 0x2000, ptrSize: 4, wantErr: "outside the buffer"},
		{name: "buffer below base", buf: setPtr(encodeUnicodeString(8, 0x1000, "x"), 8, 0xfff), base: 0x1000, ptrSize: 8, wantErr: "outside the buffer"},
		{name: "buffer far above", buf: setPtr(encodeUnicodeString(8, 0x1000, "x"), 8, 1<<63), base: 0x1000, ptrSize: 8, wantErr: "outside the buffer"},
		{name: "odd length", buf: append([]byte{5}, literal386[1:]...), base: 0x2000, ptrSize: 4, wantErr: "odd length"},
		{name: "bad pointer size", buf: literal386, base: 0x2000, ptrSize: 2, wantErr: "pointer size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeUnicodeString(tc.buf, tc.base, tc.ptrSize)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodeUnicodeString(%x) = %q, %v; want error containing %q", tc.buf, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("decodeUnicodeString(%x) = %q, %v; want %q", tc.buf, got, err, tc.want)
			}
		})
	}
}

// memory is a fake address space for cmdlineFromPEB: regions by start
// address.
type memory map[uint64][]byte

func (m memory) read(addr uint64, n int) ([]byte, error) {
	for start, b := range m {
		if addr >= start && addr-start <= uint64(len(b)) && uint64(n) <= uint64(len(b))-(addr-start) {
			return b[addr-start : addr-start+uint64(n)], nil
		}
	}
	return nil, fmt.Errorf("%d bytes at %#x: not mapped", n, addr)
}

// processMemory lays out a PEB, a parameters block and a command line the
// way Windows and Wine do, at addresses typical for the pointer size.
func processMemory(ptrSize int, cmd string) (m memory, peb uint64) {
	put := func(b []byte, off int, p uint64) {
		if ptrSize == 4 {
			binary.LittleEndian.PutUint32(b[off:], uint32(p))
		} else {
			binary.LittleEndian.PutUint64(b[off:], p)
		}
	}
	peb, params, text := uint64(0x7ffd_f000), uint64(0x20_0000), uint64(0x20_0800)
	pebBytes, paramsBytes := make([]byte, 0x400), make([]byte, 0x400)
	paramsOff, cmdOff := 0x20, 0x70
	if ptrSize == 4 {
		paramsOff, cmdOff = 0x10, 0x40
	}
	put(pebBytes, paramsOff, params)
	u := utf16.Encode([]rune(cmd))
	binary.LittleEndian.PutUint16(paramsBytes[cmdOff:], uint16(2*len(u)))
	binary.LittleEndian.PutUint16(paramsBytes[cmdOff+2:], uint16(2*len(u)+2))
	put(paramsBytes, cmdOff+ptrSize, text)
	var textBytes []byte
	for _, c := range u {
		textBytes = binary.LittleEndian.AppendUint16(textBytes, c)
	}
	return memory{peb: pebBytes, params: paramsBytes, text: append(textBytes, 0, 0)}, peb
}

func TestCmdlineFromPEB(t *testing.T) {
	const cmd = `Z:\tmp\x.test.exe -test.run=^$ "a b"`
	m8, peb8 := processMemory(8, cmd)
	m4, peb4 := processMemory(4, cmd)
	noText := memory{peb8: m8[peb8], 0x20_0000: m8[0x20_0000]}
	noParams := memory{peb8: make([]byte, 0x400)}
	oddLength := memory{peb4: m4[peb4], 0x20_0000: append([]byte(nil), m4[0x20_0000]...), 0x20_0800: m4[0x20_0800]}
	oddLength[0x20_0000][0x40] = 3
	short := func(addr uint64, n int) ([]byte, error) { b, err := m8.read(addr, n); return b[:len(b)/2], err }
	cases := []struct {
		name    string
		read    func(uint64, int) ([]byte, error)
		peb     uint64
		ptrSize int
		want    string
		wantErr string
	}{
		{name: "amd64", read: m8.read, peb: peb8, ptrSize: 8, want: cmd},
		{name: "386", read: m4.read, peb: peb4, ptrSize: 4, want: cmd},
		{name: "no PEB", read: m8.read, peb: 0, ptrSize: 8, wantErr: "no PEB"},
		{name: "PEB unreadable", read: m8.read, peb: 0x1000, ptrSize: 8, wantErr: "PEB.ProcessParameters"},
		{name: "no parameters yet", read: noParams.read, peb: peb8, ptrSize: 8, wantErr: "no parameters"},
		{name: "text unmapped", read: noText.read, peb: peb8, ptrSize: 8, wantErr: "reading the command line:"},
		{name: "odd length", read: oddLength.read, peb: peb4, ptrSize: 4, wantErr: "odd length"},
		{name: "short read", read: short, peb: peb8, ptrSize: 8, wantErr: "want 8"},
		{name: "bad pointer size", read: m8.read, peb: peb8, ptrSize: 16, wantErr: "pointer size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cmdlineFromPEB(tc.read, tc.peb, tc.ptrSize)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("cmdlineFromPEB(%#x, %d) = %q, %v; want error containing %q", tc.peb, tc.ptrSize, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("cmdlineFromPEB(%#x, %d) = %q, %v; want %q", tc.peb, tc.ptrSize, got, err, tc.want)
			}
		})
	}
}

func TestUnreadable(t *testing.T) {
	cases := []struct {
		what string
		err  error
		want string
	}{
		{"exe", fs.ErrPermission, "exe: access denied (run as administrator to see it)"},
		{"user", fmt.Errorf("OpenProcessToken: %w", fs.ErrPermission), "user: access denied (run as administrator to see it)"},
		{"cmdline", errors.New("not on Windows 7"), "cmdline: not on Windows 7"},
	}
	for _, tc := range cases {
		if got := unreadable(tc.what, tc.err); got != tc.want {
			t.Errorf("unreadable(%q, %v) = %q; want %q", tc.what, tc.err, got, tc.want)
		}
	}
}

// FuzzDecodeUnicodeString decodes arbitrary buffers; whatever decodes must
// encode and decode again to the same string.
func FuzzDecodeUnicodeString(f *testing.F) {
	f.Add(encodeUnicodeString(8, 0x1000, `x.exe -a "b c"`), uint64(0x1000), true)
	f.Add(encodeUnicodeString(4, 0x1000, `x.exe -a "b c"`), uint64(0x1000), false)
	f.Add([]byte{6, 0, 8, 0, 0x08, 0x20, 0, 0, 'a', 0}, uint64(0x2000), false)
	f.Fuzz(func(t *testing.T, buf []byte, base uint64, ptr8 bool) {
		ptrSize := 4
		if ptr8 {
			ptrSize = 8
		}
		got, err := decodeUnicodeString(buf, base, ptrSize)
		if err != nil {
			return
		}
		again, err := decodeUnicodeString(encodeUnicodeString(ptrSize, 0x3000, got), 0x3000, ptrSize)
		if err != nil || again != got {
			t.Errorf("round trip of %q = %q, %v", got, again, err)
		}
	})
}

// FuzzCmdlineFromPEB reads a command line from fuzzed process memory: a
// PEB, a parameters block and text at the addresses processMemory uses.
// Whatever decodes must decode the same from a well-formed layout.
func FuzzCmdlineFromPEB(f *testing.F) {
	for _, ptrSize := range []int{4, 8} {
		m, peb := processMemory(ptrSize, `x.exe -a "b c"`)
		f.Add(m[peb], m[0x20_0000], m[0x20_0800], ptrSize == 8)
	}
	f.Fuzz(func(t *testing.T, peb, params, text []byte, ptr8 bool) {
		ptrSize := 4
		if ptr8 {
			ptrSize = 8
		}
		m := memory{0x7ffd_f000: peb, 0x20_0000: params, 0x20_0800: text}
		got, err := cmdlineFromPEB(m.read, 0x7ffd_f000, ptrSize)
		if err != nil {
			return
		}
		good, at := processMemory(ptrSize, got)
		again, err := cmdlineFromPEB(good.read, at, ptrSize)
		if err != nil || again != got {
			t.Errorf("round trip of %q = %q, %v", got, again, err)
		}
	})
}
