package kb

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/kb/kbgen"
	"github.com/whobinds/whobinds/internal/testutil"
)

// shared is where the source registries are: ../shared from the repository
// root, as every developer and CI run has it.
const shared = "../../../shared/data"

func TestGeneratedTablesAreCurrent(t *testing.T) {
	open := func(t *testing.T, src string) *os.File {
		f, err := os.Open(filepath.Join(shared, src))
		if err != nil {
			testutil.Missing(t, "source registry not found (../shared): %v", err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	stale := "the embedded table is not what its source gives: run go generate in internal/kb and commit"
	t.Run("iana", func(t *testing.T) {
		singles, ranges, err := kbgen.CompactIANA(open(t, "iana/service-names-port-numbers.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(singles, ianaSingles) || !bytes.Equal(ranges, ianaRanges) {
			t.Error(stale)
		}
	})
	t.Run("msrpc", func(t *testing.T) {
		want, err := kbgen.CompactMSRPC(open(t, "msrpc/well_known_endpoints.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := gunzip(msrpcGz)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Error(stale)
		}
	})
	t.Run("ports.idx", func(t *testing.T) {
		want, err := kbgen.IndexPorts(portsJSON)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(portsIdx, want) {
			t.Error("ports.idx does not index ports.json: run go generate in internal/kb and commit")
		}
	})
}

// TestLookupAgreesWithTheFile checks every entry found through the index
// against the whole file parsed strictly.
func TestLookupAgreesWithTheFile(t *testing.T) {
	es, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	for i := range es {
		e := &es[i]
		for _, p := range e.Protos {
			got, ok := Lookup(p, e.Port)
			if !ok {
				t.Errorf("Lookup(%s, %d) found nothing", p, e.Port)
				continue
			}
			if e.PortEnd != 0 && got.PortEnd == 0 {
				continue // a range whose first port has an entry of its own
			}
			if diff := cmp.Diff(e, got); diff != "" {
				t.Errorf("Lookup(%s, %d) differs from the file (-file +lookup):\n%s", p, e.Port, diff)
			}
		}
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

func TestParseIANALine(t *testing.T) {
	if l, ok := parseIANALine([]byte("tcp\t80\t0\thttp\tWorld Wide Web HTTP")); !ok || l.port != 80 || l.name != "http" {
		t.Errorf("parseIANALine(http) = %+v, %v", l, ok)
	}
	for _, bad := range []string{"tcp\t80\t0\thttp", "tcp\tx\t0\thttp\tx", "tcp\t70000\t0\thttp\tx", ""} {
		if _, ok := parseIANALine([]byte(bad)); ok {
			t.Errorf("parseIANALine(%q) ok", bad)
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
		singles, ranges, err := kbgen.CompactIANA(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, table := range [][]byte{singles, ranges} {
			for _, line := range bytes.Split(bytes.TrimSuffix(table, []byte("\n")), []byte("\n")) {
				if len(line) > 0 {
					if _, ok := parseIANALine(line); !ok {
						t.Fatalf("CompactIANA wrote a line that does not parse: %q", line)
					}
				}
			}
		}
	})
}

func FuzzIndexPorts(f *testing.F) {
	f.Add([]byte(`{"ports":[{"port":22,"protos":["tcp"]},{"port":30000,"port_end":32767,"protos":["tcp","udp"]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := kbgen.IndexPorts(b)
		if err != nil {
			return
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(idx), "\n"), "\n") {
			if line == "" {
				continue
			}
			f := strings.Split(line, "\t")
			if len(f) != 5 {
				t.Fatalf("IndexPorts wrote %q", line)
			}
		}
	})
}
