package kb

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/kb/kbgen"
	"github.com/whobinds/whobinds/internal/testutil"
)

// shared is where the source registries are: ../shared from the repository
// root, as every developer and CI run has it.
const shared = "../../../shared/data"

func TestGeneratedTablesAreCurrent(t *testing.T) {
	for _, tt := range []struct {
		src      string
		embedded []byte
		compact  func(f *os.File) ([]byte, error)
	}{
		{"iana/service-names-port-numbers.csv", ianaGz, func(f *os.File) ([]byte, error) { return kbgen.CompactIANA(f) }},
		{"msrpc/well_known_endpoints.yaml", msrpcGz, func(f *os.File) ([]byte, error) { return kbgen.CompactMSRPC(f) }},
	} {
		t.Run(filepath.Base(tt.src), func(t *testing.T) {
			f, err := os.Open(filepath.Join(shared, tt.src))
			if err != nil {
				testutil.Missing(t, "source registry not found (../shared): %v", err)
			}
			defer f.Close()
			want, err := tt.compact(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gunzip(tt.embedded)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the embedded table is not what %s gives: run go generate in internal/kb and commit", tt.src)
			}
		})
	}
}

func TestMSRPCLicenceTravelsWithTheTable(t *testing.T) {
	b, err := os.ReadFile("msrpc-LICENSE")
	if err != nil || !strings.Contains(string(b), "MIT License") {
		t.Errorf("msrpc-LICENSE missing or not the MIT notice: %v", err)
	}
}

func TestIANA(t *testing.T) {
	tests := []struct {
		proto string
		port  uint16
		name  string
		alias string
	}{
		{"tcp", 80, "http", "www"},
		{"udp", 53, "domain", ""},
		{"tcp", 443, "https", ""},
		{"tcp", 5985, "wsman", ""},
		{"tcp", 6010, "x11", ""}, // inside the 6000-6063 range
	}
	for _, tt := range tests {
		s, ok := IANA(tt.proto, tt.port)
		if !ok || s.Name != tt.name || (tt.alias != "" && !slices.Contains(s.Aliases, tt.alias)) {
			t.Errorf("IANA(%s, %d) = %+v, %v; want %s (alias %q)", tt.proto, tt.port, s, ok, tt.name, tt.alias)
		}
	}
	if s, ok := IANA("tcp", 6000); !ok || s.PortEnd != 6063 {
		t.Errorf("IANA(tcp, 6000) = %+v; want the x11 range 6000-6063", s)
	}
	if got := IANAByName("HTTPS"); len(got) == 0 || got[0].Port != 443 {
		t.Errorf("IANAByName(HTTPS) = %+v; want port 443", got)
	}
	if got := IANAByName("www"); len(got) == 0 || got[0].Port != 80 {
		t.Errorf("IANAByName(www) = %+v; want port 80 (an alias)", got)
	}
	if n := len(IANANames()); n < 5000 {
		t.Errorf("IANANames() has %d names; want the whole registry", n)
	}
}

func TestParseIANARejectsBadLines(t *testing.T) {
	for _, bad := range []string{"tcp\t80\t0\thttp\n", "sctp\t80\t0\thttp\tx\n", "tcp\tx\t0\thttp\tx\n", "tcp\t70000\t0\thttp\tx\n"} {
		if _, err := parseIANA([]byte(bad)); err == nil {
			t.Errorf("parseIANA(%q) = nil error", bad)
		}
	}
}

func TestRPCInterfaces(t *testing.T) {
	epm := RPCInterfaces("E1AF8308-5D1F-11C9-91A4-08002B14A0FA")
	if len(epm) != 1 || epm[0].Domain != "MS-RPCE" || !slices.Contains(epm[0].Endpoints, "ncacn_ip_tcp:135") {
		t.Errorf("RPCInterfaces(epm) = %+v; want MS-RPCE with ncacn_ip_tcp:135", epm)
	}
	lsa := RPCInterfaces("12345778-1234-abcd-ef00-0123456789ab")
	var domains []string
	for _, i := range lsa {
		domains = append(domains, i.Domain)
	}
	if !slices.Contains(domains, "MS-LSAD") || !slices.Contains(domains, "MS-LSAT") {
		t.Errorf("RPCInterfaces(lsarpc) domains = %v; want MS-LSAD and MS-LSAT", domains)
	}
	if got := RPCInterfaces("00000000-0000-0000-0000-00000000dead"); got != nil {
		t.Errorf("RPCInterfaces(unknown) = %+v; want nil", got)
	}
}

func TestParseCuratedIsStrict(t *testing.T) {
	if _, err := parseCurated([]byte(`{"ports":[{"port":22,"protos":["tcp"],"nmes":["ssh"]}]}`)); err == nil {
		t.Error("parseCurated accepted an unknown field (a typo)")
	}
	if _, err := parseCurated([]byte(`{"ports":[`)); err == nil {
		t.Error("parseCurated accepted truncated JSON")
	}
}

func TestCompactMSRPCRejectsOtherShapes(t *testing.T) {
	for _, bad := range []string{
		"  domain: x\n",
		"- uuid: 00000000-0000-0000-0000-000000000000\n  foo: bar\n",
		"- uuid: 00000000-0000-0000-0000-000000000000\n  annotation: \"double\"\n",
		"- uuid: 00000000-0000-0000-0000-000000000000\n  annotation: 'open\n",
		"- uuid: short\n",
	} {
		if _, err := kbgen.CompactMSRPC(strings.NewReader(bad)); err == nil {
			t.Errorf("CompactMSRPC(%q) = nil error", bad)
		}
	}
}

func FuzzCompactMSRPC(f *testing.F) {
	f.Add("- uuid: e1af8308-5d1f-11c9-91a4-08002b14a0fa\n  domain: MS-RPCE\n  annotation: 'it''s'\n  if_versions: [v3.0]\n  endpoints:\n  - ncacn_ip_tcp:135\n")
	f.Fuzz(func(t *testing.T, s string) {
		out, err := kbgen.CompactMSRPC(strings.NewReader(s))
		if err != nil {
			return
		}
		if _, err := parseMSRPC(out); err != nil && len(out) > 0 {
			t.Fatalf("CompactMSRPC output does not parse: %v\n%q", err, out)
		}
	})
}

func FuzzCompactIANA(f *testing.F) {
	f.Add("Service Name,Port Number,Transport Protocol,Description\nhttp,80,tcp,World Wide Web HTTP\nx11,6000-6063,udp,X\n")
	f.Fuzz(func(t *testing.T, s string) {
		out, err := kbgen.CompactIANA(strings.NewReader(s))
		if err != nil || len(out) == 0 {
			return
		}
		if _, err := parseIANA(out); err != nil {
			t.Fatalf("CompactIANA output does not parse: %v\n%q", err, out)
		}
	})
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"winrm", "winrm", 0}, {"wimrm", "winrm", 1}, {"smb", "sbm", 2}, {"", "abc", 3}, {"kitten", "sitting", 3}} {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d; want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSuggestAndPortsNamed(t *testing.T) {
	if got := Suggest("htps", 3); !slices.Contains(got, "https") {
		t.Errorf("Suggest(htps) = %v; want https among them", got)
	}
	if got := Suggest("zzzzzzzzzz", 3); len(got) != 0 {
		t.Errorf("Suggest(nonsense) = %v; want none", got)
	}
	got := PortsNamed("https")
	if !slices.Contains(got, ProtoPort{"tcp", 443}) || !slices.Contains(got, ProtoPort{"udp", 443}) {
		t.Errorf("PortsNamed(https) = %v; want tcp/443 and udp/443", got)
	}
	if got := PortsNamed("x11"); len(got) != 0 {
		t.Errorf("PortsNamed(x11) = %v; want nothing (only a range is registered)", got)
	}
}

func TestRPCProgram(t *testing.T) {
	for n, want := range map[uint32]string{100000: "portmapper", 100003: "nfs", 100005: "mountd", 100021: "nlockmgr", 100024: "status"} {
		p, ok := RPCProgram(n)
		if !ok || !slices.Contains(p.Names, want) {
			t.Errorf("RPCProgram(%d) = %+v, %v; want %s among its names", n, p, ok, want)
		}
	}
	if _, ok := RPCProgram(12345); ok {
		t.Error("RPCProgram(12345) found a program")
	}
	if _, err := parsePrograms([]byte(`{"programs":[{"number":1},{"number":1}]}`)); err == nil {
		t.Error("parsePrograms accepted a program twice")
	}
}
