package firewall

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseIptablesSaveErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		family   int
	}{
		{"family", "*filter\nCOMMIT\n", 5},
		{"rule outside a table", "-A INPUT -j ACCEPT\n", 4},
		{"chain outside a table", ":INPUT ACCEPT [0:0]\n", 4},
		{"commit outside a table", "COMMIT\n", 4},
		{"table in a table", "*filter\n*nat\nCOMMIT\n", 4},
		{"table without a name", "*\nCOMMIT\n", 4},
		{"not committed", "*filter\n:INPUT ACCEPT [0:0]\n", 4},
		{"bad policy", "*filter\n:INPUT MAYBE [0:0]\nCOMMIT\n", 4},
		{"short chain line", "*filter\n:INPUT\nCOMMIT\n", 4},
		{"undeclared chain", "*filter\n-A INPUT -j ACCEPT\nCOMMIT\n", 4},
		{"not a rule", "*filter\n:INPUT ACCEPT [0:0]\nhello\nCOMMIT\n", 4},
		{"unterminated quote", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"x -j ACCEPT\nCOMMIT\n", 4},
		{"stray word", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT tcp -j ACCEPT\nCOMMIT\n", 4},
		{"trailing bang", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT !\nCOMMIT\n", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rs, err := ParseIptablesSave([]byte(tc.in), tc.family); err == nil {
				t.Errorf("ParseIptablesSave(%q, %d) = %v, nil; want an error", tc.in, tc.family, rs)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	got, err := tokenize(`-A INPUT -m comment --comment "pg \"admins\" \\ ok" -j  LOG --log-prefix "[UFW BLOCK] "`)
	if err != nil {
		t.Fatal(err)
	}
	want := []token{{s: "-A"}, {s: "INPUT"}, {s: "-m"}, {s: "comment"}, {s: "--comment"}, {s: `pg "admins" \ ok`, quoted: true},
		{s: "-j"}, {s: "LOG"}, {s: "--log-prefix"}, {s: "[UFW BLOCK] ", quoted: true}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(token{})); diff != "" {
		t.Errorf("tokenize mismatch (-want +got):\n%s", diff)
	}
}

func TestIptAddr(t *testing.T) {
	for _, tc := range []struct {
		in       string
		lo, hi   string
		wantFail bool
	}{
		{in: "10.0.0.0/8", lo: "10.0.0.0", hi: "10.255.255.255"},
		{in: "10.1.2.3/8", lo: "10.0.0.0", hi: "10.255.255.255"},
		{in: "10.0.0.0/255.255.0.0", lo: "10.0.0.0", hi: "10.0.255.255"},
		{in: "192.0.2.7/32", lo: "192.0.2.7", hi: "192.0.2.7"},
		{in: "192.0.2.7", lo: "192.0.2.7", hi: "192.0.2.7"},
		{in: "0.0.0.0/0", lo: "0.0.0.0", hi: "255.255.255.255"},
		{in: "fd00::/8", lo: "fd00::", hi: "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{in: "::1/128", lo: "::1", hi: "::1"},
		{in: "10.0.0.0/255.0.255.0", wantFail: true},
		{in: "10.0.0.0/33", wantFail: true},
		{in: "10.0.0.0/ffff::", wantFail: true},
		{in: "example.com", wantFail: true},
	} {
		e, err := iptAddr(tc.in)
		if tc.wantFail {
			if err == nil {
				t.Errorf("iptAddr(%q) = %v-%v; want an error", tc.in, e.alo, e.ahi)
			}
			continue
		}
		if err != nil || e.alo != netip.MustParseAddr(tc.lo) || e.ahi != netip.MustParseAddr(tc.hi) {
			t.Errorf("iptAddr(%q) = %v-%v, %v; want %s-%s", tc.in, e.alo, e.ahi, err, tc.lo, tc.hi)
		}
	}
}

func TestIptPorts(t *testing.T) {
	for in, want := range map[string][][2]uint64{
		"22":               {{22, 22}},
		"1000:2000":        {{1000, 2000}},
		":1024":            {{0, 1024}},
		"1024:":            {{1024, 65535}},
		"80,443,8000:8100": {{80, 80}, {443, 443}, {8000, 8100}},
		"2000:1000":        {{1000, 2000}},
	} {
		es, ok := iptPorts(in)
		var got [][2]uint64
		for _, e := range es {
			got = append(got, [2]uint64{e.lo, e.hi})
		}
		if !ok || !cmp.Equal(got, want) {
			t.Errorf("iptPorts(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"ssh", "70000", "1:2:3", ""} {
		if es, ok := iptPorts(in); ok {
			t.Errorf("iptPorts(%q) = %v; want failure", in, es)
		}
	}
}

// TestIptablesForms covers forms iptables-save prints in other versions or
// with other options than the fixtures.
func TestIptablesForms(t *testing.T) {
	doc := func(rules ...string) []byte {
		return []byte("*filter\n:INPUT DROP [0:0]\n:sub - [0:0]\n" + strings.Join(rules, "\n") + "\nCOMMIT\n")
	}
	for _, tc := range []struct {
		name string
		doc  []byte
		p    Packet
		want Verdict
	}{
		{"counters", doc("[12:3400] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"), tcp(22), Accept},
		{"old negation", doc("-A INPUT -p tcp -m tcp --dport ! 80 -j ACCEPT"), tcp(22), Accept},
		{"old negation, excluded", doc("-A INPUT -p tcp -m tcp --dport ! 22 -j ACCEPT"), tcp(22), Drop},
		{"negated protocol", doc("-A INPUT ! -p udp -j ACCEPT"), tcp(22), Accept},
		{"protocol number", doc("-A INPUT -p 6 -j ACCEPT"), tcp(22), Accept},
		{"protocol all", doc("-A INPUT -p all -j ACCEPT"), udp(22), Accept},
		{"unknown protocol", doc("-A INPUT -p frob -j ACCEPT"), tcp(22), Unknown},
		{"implicit tcp match", doc("-A INPUT -p tcp --dport 22 -j ACCEPT"), tcp(22), Accept},
		{"syn", doc("-A INPUT -p tcp -m tcp --syn -j ACCEPT"), tcp(22), Accept},
		{"not syn", doc("-A INPUT -p tcp -m tcp ! --syn -j ACCEPT"), tcp(22), Drop},
		{"tcp flags", doc("-A INPUT -p tcp -m tcp --tcp-flags SYN,RST,ACK,FIN SYN -j ACCEPT"), tcp(22), Accept},
		{"tcp flags ALL NONE", doc("-A INPUT -p tcp -m tcp --tcp-flags ALL NONE -j ACCEPT"), tcp(22), Drop},
		{"state NEW", doc("-A INPUT -m state --state NEW -j ACCEPT"), tcp(22), Accept},
		{"not NEW", doc("-A INPUT -m conntrack ! --ctstate NEW -j ACCEPT"), tcp(22), Drop},
		{"ctdir", doc("-A INPUT -m conntrack --ctdir ORIGINAL -j ACCEPT"), tcp(22), Accept},
		{"ctproto", doc("-A INPUT -m conntrack --ctproto udp -j ACCEPT"), tcp(22), Drop},
		{"ctorigdstport", doc("-A INPUT -m conntrack --ctorigdstport 22 -j ACCEPT"), tcp(22), Accept},
		{"fragment", doc("-A INPUT -f -j ACCEPT"), tcp(22), Drop},
		{"not fragment", doc("-A INPUT ! -f -j ACCEPT"), tcp(22), Accept},
		{"destination range", doc("-A INPUT -m iprange --dst-range 198.18.0.0-198.18.0.5 -j ACCEPT"), tcp(22), Accept},
		{"pkttype", doc("-A INPUT -m pkttype --pkt-type unicast -j ACCEPT"), tcp(22), Accept},
		{"src-type LOCAL", doc("-A INPUT -m addrtype --src-type LOCAL -j ACCEPT"), tcp(22), Drop},
		{"hashlimit above", doc("-A INPUT -m hashlimit --hashlimit-above 10/sec --hashlimit-name x -j DROP", "-A INPUT -j ACCEPT"), tcp(22), Accept},
		{"connlimit above", doc("-A INPUT -p tcp -m connlimit --connlimit-above 10 -j REJECT", "-A INPUT -j ACCEPT"), tcp(22), Accept},
		{"rpfilter invert", doc("-A INPUT -m rpfilter --invert -j DROP", "-A INPUT -j ACCEPT"), tcp(22), Accept},
		{"rpfilter", doc("-A INPUT -m rpfilter -j ACCEPT"), tcp(22), Accept},
		{"ipsec policy none", doc("-A INPUT -m policy --dir in --pol none -j ACCEPT"), tcp(22), Accept},
		{"ipset destination", doc("-A INPUT -m set --match-set x dst -j ACCEPT"), tcp(22), Unknown},
		{"goto", doc("-A INPUT -g sub", "-A INPUT -j ACCEPT", "-A sub -p udp -j ACCEPT"), tcp(22), Drop},
		{"jump returns", doc("-A INPUT -j sub", "-A INPUT -j ACCEPT", "-A sub -p udp -j ACCEPT"), tcp(22), Accept},
		{"goto missing chain", doc("-A INPUT -g nope"), tcp(22), Unknown},
		{"unknown target", doc("-A INPUT -j FROB"), tcp(22), Unknown},
		{"queue", doc("-A INPUT -j NFQUEUE --queue-num 1"), tcp(22), Unknown},
		{"log then drop", doc("-A INPUT -j LOG --log-prefix \"x \"", "-A INPUT -j ACCEPT"), tcp(22), Accept},
		{"unknown match", doc("-A INPUT -m u32 --u32 \"0>>22&0x3C@ 12>>26&0x3F=0\" -j ACCEPT"), tcp(22), Unknown},
		{"unknown option of a known match", doc("-A INPUT -p tcp -m tcp --tcp-option 8 -j ACCEPT"), tcp(22), Unknown},
		{"set-mark then mark", doc("-A INPUT -j MARK --set-mark 0x5/0xf", "-A INPUT -m mark --mark 0x5/0xf -j ACCEPT"), tcp(22), Accept},
		{"or-mark then mark", doc("-A INPUT -j MARK --or-mark 0x100", "-A INPUT -m mark ! --mark 0x100/0x100 -j ACCEPT"), tcp(22), Drop},
		{"and-mark", doc("-A INPUT -j MARK --or-mark 0x3", "-A INPUT -j MARK --and-mark 0x1", "-A INPUT -m mark --mark 0x1 -j ACCEPT"), tcp(22), Accept},
		{"xor-mark", doc("-A INPUT -j MARK --xor-mark 0x3", "-A INPUT -m mark --mark 0x3 -j ACCEPT"), tcp(22), Accept},
		{"mark nothing sets", doc("-A INPUT -m mark --mark 0x1 -j ACCEPT"), tcp(22), Unknown},
		{"unreadable mark", doc("-A INPUT -j MARK --set-mark 1", "-A INPUT -m mark --mark x -j ACCEPT"), tcp(22), Unknown},
		{"input interface wildcard", doc("-A INPUT -i eth+ -j ACCEPT"), tcp(22), Accept},
		{"output interface", doc("-A INPUT -o eth0 -j ACCEPT"), tcp(22), Drop},
		{"long options", doc("--append INPUT --protocol tcp --destination 198.18.0.1/32 --in-interface eth0 --jump ACCEPT"), tcp(22), Accept},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseIptablesSave(tc.doc, 4)
			if err != nil {
				t.Fatalf("ParseIptablesSave = %v", err)
			}
			if got := rs.Evaluate(tc.p); got.Verdict != tc.want {
				t.Errorf("Evaluate(%+v) = %+v; want %v", tc.p, got, tc.want)
			}
		})
	}
}

// TestIptablesBackendsAgree checks that the legacy and nft backends' save
// output of the same rules evaluate the same, port by port.
func TestIptablesBackendsAgree(t *testing.T) {
	for _, tc := range []struct {
		name   string
		family int
	}{{"ufw", 4}, {"ufw6", 6}, {"docker", 4}, {"raw-mangle", 4}} {
		t.Run(tc.name, func(t *testing.T) {
			legacy := loadIpt(t, tc.name+".legacy.save", tc.family)
			nft := loadIpt(t, tc.name+".nft.save", tc.family)
			dst := local4
			if tc.family == 6 {
				dst = local6
			}
			for port := range uint16(9000) {
				for _, p := range []Packet{tcp(port), udp(port)} {
					p.Dst = dst
					if a, b := legacy.Evaluate(p), nft.Evaluate(p); !cmp.Equal(a, b) {
						t.Fatalf("Evaluate(%+v): legacy %+v, nft backend %+v", p, a, b)
					}
				}
			}
		})
	}
}
