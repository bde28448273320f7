package portrange

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/model"
)

// The fixtures in testdata are netsh output as people posted it:
//   - excluded-en-tcp.txt: Windows 10 with Hyper-V (Stack Overflow, "What is
//     Administered port exclusions in windows 10?"), shortened;
//   - excluded-en-tcp-hyperv-low.txt: the same question's second sample,
//     Hyper-V ranges carved from a dynamic range that starts at 1025;
//   - excluded-de-tcp.txt: a German Windows 10 1809 after a persistent
//     exclusion of 50000 (a German blog post on Docker for Windows);
//   - excluded-*-empty.txt: the same layouts with no rows;
//   - dynamic-en-tcp.txt, dynamic-en-tcp-1024.txt: clean Windows, and a
//     GitHub Actions image after Visual Studio moved the range
//     (actions/runner-images#1442);
//   - dynamic-de-tcp.txt: the German layout; its labels are unverified
//     (no real German sample was found), which is the point: labels must
//     not matter;
//   - error-en.txt: netsh's answer to a mistyped command.

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The encodings netsh output reaches us in.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func utf16LE(s string, bom bool) string {
	var b strings.Builder
	if bom {
		b.WriteString("\xff\xfe")
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b.WriteByte(byte(u))
		b.WriteByte(byte(u >> 8))
	}
	return b.String()
}

func utf16BE(s string) string {
	var b strings.Builder
	b.WriteString("\xfe\xff")
	for _, u := range utf16.Encode([]rune(s)) {
		b.WriteByte(byte(u >> 8))
		b.WriteByte(byte(u))
	}
	return b.String()
}

// cp850 is what a German console writes into a pipe: 'ü' is one byte, 0x81,
// which is not valid UTF-8.
func cp850(s string) string { return strings.ReplaceAll(s, "ü", "\x81") }

func tcp4(first, last uint16, admin bool) Range {
	return Range{Proto: model.TCP, Family: 4, First: first, Last: last, Administered: admin}
}

func TestParseExcluded(t *testing.T) {
	en := []Range{
		tcp4(5357, 5357, false),
		tcp4(9800, 9800, false),
		tcp4(49671, 49770, false),
		tcp4(50000, 50059, true),
		tcp4(61117, 61216, false),
	}
	de := []Range{
		tcp4(28380, 28380, false),
		tcp4(28385, 28385, false),
		tcp4(49708, 49807, false),
		tcp4(50000, 50000, true),
		tcp4(50001, 50100, false),
	}
	low := []Range{
		tcp4(1031, 1130, false),
		tcp4(1131, 1230, false),
		tcp4(2363, 2462, false),
		tcp4(5357, 5357, false),
		tcp4(50000, 50099, true),
		tcp4(55500, 55599, false),
	}
	tests := []struct {
		name   string
		out    string
		proto  model.Proto
		family int
		want   []Range
	}{
		{"english", fixture(t, "excluded-en-tcp.txt"), model.TCP, 4, en},
		{"english hyper-v low", fixture(t, "excluded-en-tcp-hyperv-low.txt"), model.TCP, 4, low},
		{"german", fixture(t, "excluded-de-tcp.txt"), model.TCP, 4, de},
		{"english crlf", crlf(fixture(t, "excluded-en-tcp.txt")), model.TCP, 4, en},
		{"german crlf cp850", crlf(cp850(fixture(t, "excluded-de-tcp.txt"))), model.TCP, 4, de},
		{"english utf-16le bom", utf16LE(crlf(fixture(t, "excluded-en-tcp.txt")), true), model.TCP, 4, en},
		{"german utf-16le bom", utf16LE(crlf(fixture(t, "excluded-de-tcp.txt")), true), model.TCP, 4, de},
		{"english utf-16le no bom", utf16LE(crlf(fixture(t, "excluded-en-tcp.txt")), false), model.TCP, 4, en},
		{"english utf-16be bom", utf16BE(fixture(t, "excluded-en-tcp.txt")), model.TCP, 4, en},
		{"english utf-8 bom", "\xef\xbb\xbf" + fixture(t, "excluded-en-tcp.txt"), model.TCP, 4, en},
		{"lone cr", strings.ReplaceAll(fixture(t, "excluded-en-tcp.txt"), "\n", "\r"), model.TCP, 4, en},
		{"trailing blank lines", fixture(t, "excluded-en-tcp.txt") + "\r\n\r\n   \n\n", model.TCP, 4, en},
		{"tabs", strings.ReplaceAll(fixture(t, "excluded-en-tcp.txt"), "        ", "\t"), model.TCP, 4, en},
		{"ipv6 udp labels the ranges", "----  ----\n 500 600 *\n", model.UDP, 6,
			[]Range{{Proto: model.UDP, Family: 6, First: 500, Last: 600, Administered: true}}},
		{"rows without a separator", " 80 80\n", model.TCP, 4, []Range{tcp4(80, 80, false)}},
		{"first and last port", "---- ----\n1 65535\n", model.TCP, 4, []Range{tcp4(1, 65535, false)}},
		{"english empty table", fixture(t, "excluded-en-udp-empty.txt"), model.UDP, 4, nil},
		{"german empty table", fixture(t, "excluded-de-udp-empty.txt"), model.UDP, 4, nil},
		{"empty table utf-16le", utf16LE(crlf(fixture(t, "excluded-en-udp-empty.txt")), true), model.UDP, 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExcluded(tt.out, tt.proto, tt.family)
			if err != nil {
				t.Fatalf("ParseExcluded(%q) = %v", tt.out, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseExcluded(%q) mismatch (-want +got):\n%s", tt.out, diff)
			}
		})
	}
}

func TestParseExcludedErrors(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want error
	}{
		{"empty", "", ErrNoOutput},
		{"blank lines", "\r\n\r\n  \n", ErrNoOutput},
		{"utf-16 bom only", "\xff\xfe", ErrNoOutput},
		{"utf-16 blank", utf16LE("\r\n\r\n", true), ErrNoOutput},
		{"netsh error", fixture(t, "error-en.txt"), ErrUnknownLayout},
		{"garbage", "Zugriff verweigert\n", ErrUnknownLayout},
		{"dynamic port output", fixture(t, "dynamic-en-tcp.txt"), ErrUnknownLayout},
		{"header without separator", "Protocol tcp Port Exclusion Ranges\n\nStart Port    End Port\n", ErrUnknownLayout},
		{"unknown column", "---- ----\n 5357 5357 svchost\n", ErrUnknownLayout},
		{"four columns", "---- ----\n 5357 5357 * x\n", ErrUnknownLayout},
		{"port too big", "---- ----\n 65535 65536\n", ErrUnknownLayout},
		{"port zero", "---- ----\n 0 10\n", ErrUnknownLayout},
		{"reversed", "---- ----\n 600 500\n", ErrUnknownLayout},
		{"huge number", "---- ----\n 1 99999999999999999999999\n", ErrUnknownLayout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExcluded(tt.out, model.TCP, 4)
			if !errors.Is(err, tt.want) {
				t.Errorf("ParseExcluded(%q) = %v, %v; want error %v", tt.out, got, err, tt.want)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		proto  model.Proto
		family int
	}{
		{0, 4},
		{model.Proto(1), 4},
		{model.TCP, 0},
		{model.UDP, 10},
	}
	out := fixture(t, "excluded-en-tcp.txt")
	for _, tt := range tests {
		if got, err := ParseExcluded(out, tt.proto, tt.family); err == nil {
			t.Errorf("ParseExcluded(en, %v, %d) = %v, nil; want an error", tt.proto, tt.family, got)
		}
		if got, err := ParseDynamic(fixture(t, "dynamic-en-tcp.txt"), tt.proto, tt.family); err == nil {
			t.Errorf("ParseDynamic(en, %v, %d) = %v, nil; want an error", tt.proto, tt.family, got)
		}
	}
}

func TestParseDynamic(t *testing.T) {
	def := Range{Proto: model.TCP, Family: 4, First: 49152, Last: 65535}
	tests := []struct {
		name   string
		out    string
		proto  model.Proto
		family int
		want   Range
	}{
		{"english", fixture(t, "dynamic-en-tcp.txt"), model.TCP, 4, def},
		{"english moved to 1024", fixture(t, "dynamic-en-tcp-1024.txt"), model.TCP, 4,
			Range{Proto: model.TCP, Family: 4, First: 1024, Last: 65534}},
		{"german", fixture(t, "dynamic-de-tcp.txt"), model.TCP, 4, def},
		{"english crlf", crlf(fixture(t, "dynamic-en-tcp.txt")), model.TCP, 4, def},
		{"english utf-16le bom", utf16LE(crlf(fixture(t, "dynamic-en-tcp.txt")), true), model.TCP, 4, def},
		{"german utf-16le no bom", utf16LE(crlf(fixture(t, "dynamic-de-tcp.txt")), false), model.TCP, 4, def},
		{"trailing blank lines", fixture(t, "dynamic-en-tcp.txt") + "\r\n\r\n\r\n", model.TCP, 4, def},
		{"udp ipv6 labels the range", "Protocol udp Dynamic Port Range\n---\nStart Port : 10000\nNumber of Ports : 1000\n",
			model.UDP, 6, Range{Proto: model.UDP, Family: 6, First: 10000, Last: 10999}},
		{"a digit inside a label is not a number", "ipv6 Start Port : 49152\nNumber of Ports : 16384\n",
			model.TCP, 6, Range{Proto: model.TCP, Family: 6, First: 49152, Last: 65535}},
		{"non-ascii labels", "\x83v\x83\x8d\x83g\x83R\x83\x8b tcp\n---\n\x8aJ\x8en : 49152\n\x90\x94 : 16384\n", model.TCP, 4, def},
		{"whole range", "Start Port : 1\nNumber of Ports : 65535\n", model.TCP, 4,
			Range{Proto: model.TCP, Family: 4, First: 1, Last: 65535}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDynamic(tt.out, tt.proto, tt.family)
			if err != nil {
				t.Fatalf("ParseDynamic(%q) = %v", tt.out, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDynamic(%q) mismatch (-want +got):\n%s", tt.out, diff)
			}
		})
	}
}

func TestParseDynamicErrors(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want error
	}{
		{"empty", "", ErrNoOutput},
		{"blank lines", "\n\r\n \t\n", ErrNoOutput},
		{"utf-16 bom only", "\xff\xfe", ErrNoOutput},
		{"netsh error", fixture(t, "error-en.txt"), ErrUnknownLayout},
		{"garbage", "Element not found.\n", ErrUnknownLayout},
		{"one number", "Start Port : 49152\n", ErrUnknownLayout},
		{"past 65535", "Start Port : 49152\nNumber of Ports : 16385\n", ErrUnknownLayout},
		{"start zero", "Start Port : 0\nNumber of Ports : 100\n", ErrUnknownLayout},
		{"count zero", "Start Port : 1025\nNumber of Ports : 0\n", ErrUnknownLayout},
		{"huge", "Start Port : 99999999999999999999999\nNumber of Ports : 1\n", ErrUnknownLayout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDynamic(tt.out, model.TCP, 4)
			if !errors.Is(err, tt.want) {
				t.Errorf("ParseDynamic(%q) = %v, %v; want error %v", tt.out, got, err, tt.want)
			}
		})
	}
}

// formatExcluded writes ranges as netsh does (English labels).
func formatExcluded(ranges []Range) string {
	var b strings.Builder
	b.WriteString("\r\nProtocol tcp Port Exclusion Ranges\r\n\r\nStart Port    End Port\r\n----------    --------\r\n")
	for _, r := range ranges {
		fmt.Fprintf(&b, "%10d  %10d", r.First, r.Last)
		if r.Administered {
			b.WriteString("     *")
		}
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n* - Administered port exclusions.\r\n\r\n")
	return b.String()
}

func formatDynamic(r Range) string {
	return fmt.Sprintf("\r\nProtocol tcp Dynamic Port Range\r\n---------------------------------\r\n"+
		"Start Port      : %d\r\nNumber of Ports : %d\r\n\r\n", r.First, r.Len())
}

func FuzzParseExcluded(f *testing.F) {
	for _, name := range []string{"excluded-en-tcp.txt", "excluded-de-tcp.txt", "excluded-en-udp-empty.txt",
		"excluded-en-tcp-hyperv-low.txt", "dynamic-en-tcp.txt", "error-en.txt"} {
		s := fixture(f, name)
		f.Add(s)
		f.Add(utf16LE(crlf(s), true))
	}
	f.Add("")
	f.Add("---- ----\n 1 65535 *\n")
	f.Fuzz(func(t *testing.T, out string) {
		ranges, err := ParseExcluded(out, model.TCP, 6)
		if err != nil {
			if !errors.Is(err, ErrNoOutput) && !errors.Is(err, ErrUnknownLayout) {
				t.Fatalf("ParseExcluded(%q) = %v; want ErrNoOutput or ErrUnknownLayout", out, err)
			}
			return
		}
		for _, r := range ranges {
			if r.First == 0 || r.First > r.Last || r.Proto != model.TCP || r.Family != 6 {
				t.Fatalf("ParseExcluded(%q) gave range %+v", out, r)
			}
		}
		// Round trip: netsh's own layout of the ranges parses back to them.
		again, err := ParseExcluded(formatExcluded(ranges), model.TCP, 6)
		if err != nil {
			t.Fatalf("ParseExcluded(formatExcluded(%v)) = %v", ranges, err)
		}
		if diff := cmp.Diff(ranges, again); diff != "" {
			t.Fatalf("round trip of %q mismatch (-first +second):\n%s", out, diff)
		}
	})
}

func FuzzParseDynamic(f *testing.F) {
	for _, name := range []string{"dynamic-en-tcp.txt", "dynamic-de-tcp.txt", "dynamic-en-tcp-1024.txt",
		"excluded-en-tcp.txt", "error-en.txt"} {
		s := fixture(f, name)
		f.Add(s)
		f.Add(utf16LE(crlf(s), true))
	}
	f.Add("")
	f.Add("1 65535")
	f.Fuzz(func(t *testing.T, out string) {
		r, err := ParseDynamic(out, model.UDP, 4)
		if err != nil {
			if !errors.Is(err, ErrNoOutput) && !errors.Is(err, ErrUnknownLayout) {
				t.Fatalf("ParseDynamic(%q) = %v; want ErrNoOutput or ErrUnknownLayout", out, err)
			}
			return
		}
		if r.First == 0 || r.First > r.Last || r.Administered || r.Proto != model.UDP || r.Family != 4 {
			t.Fatalf("ParseDynamic(%q) = %+v", out, r)
		}
		again, err := ParseDynamic(formatDynamic(r), model.UDP, 4)
		if err != nil {
			t.Fatalf("ParseDynamic(formatDynamic(%v)) = %v", r, err)
		}
		if diff := cmp.Diff(r, again); diff != "" {
			t.Fatalf("round trip of %q mismatch (-first +second):\n%s", out, diff)
		}
	})
}
