package firewall

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/model"
)

// The fixtures under testdata/nft and testdata/iptables are real output of
// nft -j and iptables-save for the rulesets under testdata/src, captured
// by testdata/capture.sh. The expectations below are read off those
// rulesets by hand; read_linux_test.go checks a set of them against the
// kernel.

var local4 = netip.MustParseAddr("198.18.0.1")
var local6 = netip.MustParseAddr("2001:db8::1")

func loadNFT(t testing.TB, name string) *Ruleset {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "nft", name))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseNFT(b)
	if err != nil {
		t.Fatalf("ParseNFT(%s) = %v", name, err)
	}
	return rs
}

func loadIpt(t testing.TB, name string, family int) *Ruleset {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "iptables", name))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseIptablesSave(b, family)
	if err != nil {
		t.Fatalf("ParseIptablesSave(%s, %d) = %v", name, family, err)
	}
	return rs
}

func tcp(port uint16) Packet {
	return Packet{Proto: model.TCP, Dst: local4, DstPort: port, InIface: "eth0"}
}

func udp(port uint16) Packet {
	return Packet{Proto: model.UDP, Dst: local4, DstPort: port, InIface: "eth0"}
}

func tcp6(port uint16) Packet {
	return Packet{Proto: model.TCP, Dst: local6, DstPort: port, InIface: "eth0"}
}

func udp6(port uint16) Packet {
	return Packet{Proto: model.UDP, Dst: local6, DstPort: port, InIface: "eth0"}
}

func with(p Packet, f func(*Packet)) Packet { f(&p); return p }

type evalCase struct {
	name string
	p    Packet
	want Decision
	// reason, when set, must be part of Decision.Reason, which is
	// otherwise not compared.
	reason string
}

func runCases(t *testing.T, rs *Ruleset, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rs.Evaluate(tc.p)
			if tc.reason != "" && !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("Evaluate(%+v).Reason = %q; want it to contain %q", tc.p, got.Reason, tc.reason)
			}
			if got.Reason == "" {
				t.Errorf("Evaluate(%+v).Reason is empty", tc.p)
			}
			got.Reason = ""
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Evaluate(%+v) mismatch (-want +got):\n%s", tc.p, diff)
			}
		})
	}
}

func nftDecision(v Verdict, rule string, exceptions ...string) Decision {
	return Decision{Verdict: v, Rule: rule, Source: "nftables", Exceptions: exceptions}
}

func TestEvaluatePlain(t *testing.T) {
	rs := loadNFT(t, "plain.json")
	policy := "inet filter input: policy drop"
	runCases(t, rs, []evalCase{
		{name: "ssh", p: tcp(22), want: nftDecision(Accept, "inet filter input: tcp dport 22 accept")},
		{name: "ssh over IPv6", p: tcp6(22), want: nftDecision(Accept, "inet filter input: tcp dport 22 accept")},
		{name: "http", p: tcp(80), want: nftDecision(Drop, policy), reason: "policy drops"},
		{name: "udp 22", p: udp(22), want: nftDecision(Drop, policy)},
		{name: "dns over IPv6", p: udp6(53), want: nftDecision(Drop, policy)},
		{name: "any interface", p: with(tcp(80), func(p *Packet) { p.InIface = "" }), want: nftDecision(Drop, policy)},
		{name: "wildcard listener", p: with(tcp(22), func(p *Packet) { p.Dst = netip.IPv4Unspecified() }),
			want: nftDecision(Accept, "inet filter input: tcp dport 22 accept")},
	})
}

func TestEvaluateKitchen(t *testing.T) {
	rs := loadNFT(t, "kitchen.json")
	const (
		policy  = "inet filter input: policy drop"
		blocked = "from 198.51.100.7: drop by inet filter input: ip saddr @blocked drop"
	)
	runCases(t, rs, []evalCase{
		{name: "no rule", p: tcp(22), want: nftDecision(Drop, policy)},
		{name: "anonymous set", p: tcp(587), want: nftDecision(Accept, "inet filter input: tcp dport { 25, 587, 1000-2000 } counter accept", blocked)},
		{name: "range in anonymous set", p: tcp(1500), want: nftDecision(Accept, "inet filter input: tcp dport { 25, 587, 1000-2000 } counter accept", blocked)},
		{name: "range end", p: tcp(2001), want: nftDecision(Drop, policy)},
		{name: "named interval set", p: tcp(8050), want: nftDecision(Accept, "inet filter input: tcp dport @web accept", blocked)},
		{name: "named set by source", p: tcp(9100), want: nftDecision(Drop, policy,
			"from 10.0.0.0/8: accept by inet filter input: ip saddr @admins4 tcp dport 9100 accept",
			"from 192.168.1.5: accept by inet filter input: ip saddr @admins4 tcp dport 9100 accept")},
		{name: "named set by source, IPv6", p: tcp6(9100), want: nftDecision(Drop, policy,
			"from fd00::/8: accept by inet filter input: ip6 saddr @admins6 tcp dport 9100 accept")},
		{name: "one sender", p: with(tcp(9100), func(p *Packet) { p.Src = netip.MustParseAddr("10.1.2.3") }),
			want: nftDecision(Accept, "inet filter input: ip saddr @admins4 tcp dport 9100 accept")},
		{name: "one sender outside", p: with(tcp(9100), func(p *Packet) { p.Src = netip.MustParseAddr("11.1.2.3") }),
			want: nftDecision(Drop, policy)},
		{name: "source prefix", p: tcp(5432), want: nftDecision(Drop, policy,
			"from 10.0.0.0/8: accept by inet filter input: ip saddr 10.0.0.0/8 tcp dport 5432 accept")},
		{name: "negated source", p: tcp(6379), want: nftDecision(Drop, "inet filter input: ip saddr != 192.168.0.0/16 tcp dport 6379 drop",
			"from 192.168.0.0/16: accept by inet filter input: tcp dport 6379 accept")},
		{name: "th dport tcp", p: tcp(5353), want: nftDecision(Accept, "inet filter input: meta l4proto { tcp, udp } th dport 5353 accept", blocked)},
		{name: "th dport udp", p: udp(5353), want: nftDecision(Accept, "inet filter input: meta l4proto { tcp, udp } th dport 5353 accept", blocked)},
		{name: "udp only", p: tcp(53), want: nftDecision(Drop, policy)},
		{name: "udp", p: udp(53), want: nftDecision(Accept, "inet filter input: udp dport 53 accept", blocked)},
		{name: "reject tcp reset", p: tcp(23), want: nftDecision(Reject, "inet filter input: tcp dport 23 reject with tcp reset", blocked)},
		{name: "reject", p: udp(69), want: nftDecision(Reject, "inet filter input: udp dport 69 reject with icmpx port-unreachable", blocked)},
		{name: "reject admin-prohibited", p: tcp(113), want: nftDecision(Reject, "inet filter input: tcp dport 113 reject with icmpx admin-prohibited", blocked)},
		{name: "destination address", p: with(tcp(8081), func(p *Packet) { p.Dst = netip.MustParseAddr("192.168.1.10") }),
			want: nftDecision(Accept, "inet filter input: tcp dport @web accept", blocked)},
		{name: "vmap accept", p: tcp(3000), want: nftDecision(Accept, "inet filter input: tcp dport vmap { 3000 : accept, 3001 : drop, 3002 : jump services }", blocked)},
		{name: "vmap drop", p: tcp(3001), want: nftDecision(Drop, "inet filter input: tcp dport vmap { 3000 : accept, 3001 : drop, 3002 : jump services }")},
		{name: "vmap jump", p: tcp(3002), want: nftDecision(Drop, policy)},
		{name: "named vmap", p: tcp(3101), want: nftDecision(Drop, "inet filter input: tcp dport vmap @portmap")},
		{name: "other interface", p: tcp(3306), want: nftDecision(Drop, policy)},
		{name: "its interface", p: with(tcp(3306), func(p *Packet) { p.InIface = "eth1" }),
			want: nftDecision(Accept, `inet filter input: iifname "eth1" tcp dport 3306 accept`, blocked)},
		{name: "wildcard interface", p: with(tcp(1), func(p *Packet) { p.InIface = "wg0" }),
			want: nftDecision(Accept, `inet filter input: iifname "wg*" accept`, blocked)},
		{name: "any interface", p: with(tcp(3306), func(p *Packet) { p.InIface = "" }), want: nftDecision(Drop, policy,
			`arriving on eth1: accept by inet filter input: iifname "eth1" tcp dport 3306 accept`,
			`arriving on wg*: accept by inet filter input: iifname "wg*" accept`)},
		{name: "concatenation", p: tcp(2049), want: nftDecision(Drop, policy,
			"from 203.0.113.5: accept by inet filter input: ip saddr . tcp dport { 203.0.113.5 . 2049, 203.0.113.6 . 2049 } accept",
			"from 203.0.113.6: accept by inet filter input: ip saddr . tcp dport { 203.0.113.5 . 2049, 203.0.113.6 . 2049 } accept")},
		{name: "less than", p: tcp(9), want: nftDecision(Drop, "inet filter input: tcp dport < 10 drop")},
		{name: "at least", p: tcp(65000), want: nftDecision(Accept, "inet filter input: tcp dport >= 65000 accept", blocked)},
		{name: "nfproto ipv4", p: tcp(7000), want: nftDecision(Accept, "inet filter input: meta nfproto ipv4 tcp dport 7000 accept", blocked)},
		{name: "nfproto ipv6 on IPv4", p: tcp(7001), want: nftDecision(Drop, policy)},
		{name: "source port", p: udp(123), want: nftDecision(Drop, policy,
			"from source port 123: accept by inet filter input: udp sport 123 udp dport 123 accept")},
		{name: "fib daddr type", p: tcp(7002), want: nftDecision(Accept, "inet filter input: fib daddr type local tcp dport 7002 accept", blocked)},
		{name: "pkttype", p: tcp(7003), want: nftDecision(Accept, "inet filter input: meta pkttype host tcp dport 7003 accept", blocked)},
		{name: "ct direction", p: tcp(7004), want: nftDecision(Accept, "inet filter input: ct direction original tcp dport 7004 accept", blocked)},
		{name: "ip version", p: tcp(7005), want: nftDecision(Accept, "inet filter input: ip version 4 tcp dport 7005 accept", blocked)},
		{name: "jump", p: tcp(2222), want: nftDecision(Accept, "inet filter services: tcp dport 2222 accept", blocked)},
		{name: "return", p: tcp(4444), want: nftDecision(Drop, policy)},
		{name: "drop in jumped chain", p: udp(4444), want: nftDecision(Drop, "inet filter services: udp dport 4444 drop")},
		{name: "nested jump", p: tcp(4445), want: nftDecision(Accept, "inet filter deeper: tcp dport 4445 accept", blocked)},
		{name: "nested return", p: tcp(4446), want: nftDecision(Drop, policy)},
		{name: "goto", p: tcp(8443), want: nftDecision(Accept, "inet filter tls: accept", blocked,
			"from 192.0.2.0/24: drop by inet filter tls: ip saddr 192.0.2.0/24 drop")},
		{name: "ip6 table, IPv4 packet", p: with(tcp(9200), func(p *Packet) { p.InIface = "wg0" }),
			want: nftDecision(Accept, `inet filter input: iifname "wg*" accept`, blocked)},
		{name: "ip6 table after inet accept", p: with(tcp6(9200), func(p *Packet) { p.InIface = "wg0" }),
			want: nftDecision(Drop, "ip6 extra6 in: tcp dport 9200 drop")},
		{name: "saddr ::/0 is everyone", p: with(tcp6(9201), func(p *Packet) { p.InIface = "wg0" }),
			want: nftDecision(Drop, "ip6 extra6 in: ip6 saddr ::/0 tcp dport 9201 drop")},
	})
}

func TestEvaluateFirewalld(t *testing.T) {
	rs := loadNFT(t, "firewalld.json")
	const (
		reject   = "inet firewalld filter_IN_public: reject with icmpx admin-prohibited"
		deny     = "from 192.0.2.0/24: drop by inet firewalld filter_IN_public_deny: ip saddr 192.0.2.0/24 drop"
		internal = "from 10.0.0.0/8: reject by inet firewalld filter_IN_internal: reject with icmpx admin-prohibited"
	)
	runCases(t, rs, []evalCase{
		{name: "ssh", p: tcp(22), want: nftDecision(Accept, "inet firewalld filter_IN_public_allow: tcp dport 22 ct state { new, untracked } accept", deny)},
		{name: "cockpit", p: tcp(9090), want: nftDecision(Accept, "inet firewalld filter_IN_public_allow: tcp dport 9090 ct state { new, untracked } accept", internal, deny)},
		{name: "closed port", p: tcp(12345), want: nftDecision(Reject, reject, deny)},
		{name: "internal zone by source", p: tcp(5432), want: nftDecision(Reject, reject,
			"from 10.0.0.0/8: accept by inet firewalld filter_IN_internal_allow: tcp dport 5432 ct state { new, untracked } accept", deny)},
		{name: "internal zone by interface", p: with(tcp(5432), func(p *Packet) { p.InIface = "eth1" }),
			want: nftDecision(Accept, "inet firewalld filter_IN_internal_allow: tcp dport 5432 ct state { new, untracked } accept")},
		{name: "any interface", p: with(udp(137), func(p *Packet) { p.InIface = "" }), want: nftDecision(Reject, reject,
			"from 10.0.0.0/8: accept by inet firewalld filter_IN_internal_allow: udp dport 137 ct state { new, untracked } accept",
			"arriving on eth1: accept by inet firewalld filter_IN_internal_allow: udp dport 137 ct state { new, untracked } accept", deny)},
		{name: "forwarded port", p: tcp(8443), want: Decision{Verdict: Unknown, Source: "nftables",
			Rule:       "inet firewalld nat_PRE_public_allow: meta nfproto ipv4 tcp dport 8443 redirect to :443",
			Exceptions: []string{internal}}, reason: "redirect"},
		{name: "forwarded port, IPv6", p: tcp6(8443), want: nftDecision(Accept, "inet firewalld filter_IN_public_allow: tcp dport 8443 ct state { new, untracked } accept")},
		{name: "dhcpv6 client, link-local", p: with(udp6(546), func(p *Packet) { p.Dst = netip.MustParseAddr("fe80::1") }),
			want: nftDecision(Accept, "inet firewalld filter_IN_public_allow: ip6 daddr fe80::/64 udp dport 546 ct state { new, untracked } accept")},
		{name: "dhcpv6 client, global", p: udp6(546), want: nftDecision(Reject, reject)},
	})
}

func TestEvaluateUndecidable(t *testing.T) {
	rs := loadNFT(t, "undecidable.json")
	const policy = "inet filter input: policy drop"
	runCases(t, rs, []evalCase{
		{name: "decidable", p: tcp(22), want: nftDecision(Accept, "inet filter input: tcp dport 22 accept")},
		{name: "mark", p: tcp(80), want: nftDecision(Unknown, "inet filter input: meta mark 1 tcp dport 80 accept"),
			reason: `"meta mark 1" in inet filter input (the packet's mark comes from outside the rules (tc, eBPF, or a statement whose value is not known)). Possible outcomes: drop by inet filter input: policy drop; accept by inet filter input: meta mark 1 tcp dport 80 accept`},
		{name: "mark, then a drop either way", p: tcp(81), want: nftDecision(Drop, "inet filter input: tcp dport 81 drop")},
		{name: "socket uid", p: tcp(82), want: nftDecision(Unknown, "inet filter input: skuid 0 tcp dport 82 accept"), reason: "meta skuid"},
		{name: "tproxy, then a drop", p: tcp(83), want: nftDecision(Drop, policy)},
		{name: "ttl", p: tcp(84), want: nftDecision(Unknown, "inet filter input: ip ttl 64 tcp dport 84 accept"), reason: "ip ttl"},
		{name: "setting a ct mark", p: tcp(85), want: nftDecision(Accept, "inet filter input: tcp dport 85 ct mark set 5 accept")},
		{name: "ct mark", p: tcp(86), want: nftDecision(Unknown, "inet filter input: tcp dport 86 ct mark 1 accept"), reason: "ct mark"},
		{name: "ingress device not shown, drop either way", p: tcp(87), want: nftDecision(Drop, policy)},
		// notrack in prerouting: ct state becomes untracked, so "early in"
		// accepts 88 (then filter's policy drops it) and drops 89.
		{name: "notrack, untracked", p: tcp(88), want: nftDecision(Drop, policy)},
		{name: "notrack, not new", p: tcp(89), want: nftDecision(Drop, "inet early in: tcp dport 89 drop")},
		{name: "quota", p: tcp(90), want: nftDecision(Drop, policy)},
		{name: "cgroup", p: tcp(91), want: nftDecision(Unknown, "inet filter input: meta cgroup 1 tcp dport 91 accept"), reason: "meta cgroup"},
	})
}

func TestEvaluateMarks(t *testing.T) {
	rs := loadNFT(t, "marks.json")
	runCases(t, rs, []evalCase{
		{name: "set, matched", p: tcp(5000), want: nftDecision(Drop, "inet marks in: meta mark 16 drop")},
		{name: "set, matched with a mask", p: tcp(5001), want: nftDecision(Reject, "inet marks in: meta l4proto tcp meta mark & 32 == 32 reject with tcp reset")},
		{name: "set from ct mark", p: tcp(5002), want: nftDecision(Unknown, "inet marks in: meta mark != 0 tcp dport 5002 drop"), reason: "mark comes from outside"},
		{name: "not set, verdict map", p: tcp(5003), want: nftDecision(Accept, "inet marks in: meta mark vmap { 0 : accept, 16 : drop }")},
		{name: "not set, zero matched", p: tcp(5004), want: nftDecision(Drop, "inet marks in: meta mark 0 tcp dport 5004 drop")},
		{name: "tcp only: not set", p: udp(5001), want: nftDecision(Accept, "inet marks in: meta mark vmap { 0 : accept, 16 : drop }")},
	})
}

// ufwCases hold for ufw's chains whichever program shows them.
func ufwCases(source string) []evalCase {
	d := func(v Verdict, rule string, exceptions ...string) Decision {
		return Decision{Verdict: v, Rule: rule, Source: source, Exceptions: exceptions}
	}
	const policy = "filter INPUT: policy DROP"
	return []evalCase{
		{name: "allow", p: tcp(22), want: d(Accept, "filter ufw-user-input: -p tcp -m tcp --dport 22 -j ACCEPT")},
		{name: "allow, other protocol", p: udp(22), want: d(Drop, policy)},
		{name: "allow from", p: tcp(5432), want: d(Drop, policy,
			"from 10.0.0.0/8: accept by filter ufw-user-input: -s 10.0.0.0/8 -p tcp -m tcp --dport 5432 -j ACCEPT")},
		{name: "limit", p: tcp(2222), want: d(Accept, "filter ufw-user-limit-accept: -j ACCEPT",
			"from a source already in recent list DEFAULT: reject by filter ufw-user-limit: -j REJECT --reject-with icmp-port-unreachable")},
		{name: "reject tcp", p: tcp(8080), want: d(Reject, "filter ufw-user-input: -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset")},
		{name: "reject udp", p: udp(8080), want: d(Reject, "filter ufw-user-input: -p udp -m udp --dport 8080 -j REJECT --reject-with icmp-port-unreachable")},
		{name: "deny", p: tcp(23), want: d(Drop, "filter ufw-user-input: -p tcp -m tcp --dport 23 -j DROP")},
		{name: "multiport", p: tcp(6007), want: d(Accept, "filter ufw-user-input: -p tcp -m multiport --dports 6000:6007 -j ACCEPT")},
		{name: "multiport udp", p: udp(60500), want: d(Accept, "filter ufw-user-input: -p udp -m multiport --dports 60000:61000 -j ACCEPT")},
		{name: "in on interface", p: tcp(3306), want: d(Drop, policy)},
		{name: "in on its interface", p: with(tcp(3306), func(p *Packet) { p.InIface = "eth1" }),
			want: d(Accept, "filter ufw-user-input: -i eth1 -p tcp -m tcp --dport 3306 -j ACCEPT")},
		{name: "skip to policy", p: udp(137), want: d(Drop, "filter ufw-skip-to-policy-input: -j DROP")},
		{name: "dhcp client", p: udp(68), want: d(Drop, "filter ufw-skip-to-policy-input: -j DROP",
			"from source port 67: accept by filter ufw-before-input: -p udp -m udp --sport 67 --dport 68 -j ACCEPT")},
		{name: "mdns to unicast", p: udp(5353), want: d(Drop, policy)},
		{name: "mdns to its group", p: with(udp(5353), func(p *Packet) { p.Dst = netip.MustParseAddr("224.0.0.251") }),
			want: d(Accept, "filter ufw-before-input: -d 224.0.0.251/32 -p udp -m udp --dport 5353 -j ACCEPT")},
		{name: "default deny", p: tcp(12345), want: d(Drop, policy)},
	}
}

func TestEvaluateUFW(t *testing.T) {
	t.Run("legacy", func(t *testing.T) { runCases(t, loadIpt(t, "ufw.legacy.save", 4), ufwCases("iptables")) })
	t.Run("nft backend", func(t *testing.T) { runCases(t, loadIpt(t, "ufw.nft.save", 4), ufwCases("iptables")) })
	t.Run("nft view adopted", func(t *testing.T) {
		rs := loadNFT(t, "ufw.iptables-nft.json")
		ipt, err := parseIptables(readFile(t, "iptables/ufw.nft.save"), 4, "iptables-nft")
		if err != nil {
			t.Fatal(err)
		}
		rs.adopt(ipt, "ip")
		runCases(t, rs, ufwCases("iptables-nft"))
	})
}

func TestEvaluateUFWThroughNFTOnly(t *testing.T) {
	// nft -j shows ufw's conntrack and recent matches as bare "xt match"
	// names, so what they decide is unknown; drops that come before any
	// of them still decide.
	rs := loadNFT(t, "ufw.iptables-nft.json")
	got := rs.Evaluate(tcp(22))
	if got.Verdict != Unknown || !strings.Contains(got.Reason, "xt match conntrack") || !strings.Contains(got.Reason, "iptables-nft-save") {
		t.Errorf("Evaluate(tcp 22) = %+v; want Unknown naming xt match conntrack", got)
	}
	got = rs.Evaluate(udp(8080))
	if got.Verdict != Unknown {
		t.Errorf("Evaluate(udp 8080) = %+v; want Unknown", got)
	}
}

func TestEvaluateUFW6(t *testing.T) {
	for _, name := range []string{"ufw6.legacy.save", "ufw6.nft.save"} {
		t.Run(name, func(t *testing.T) {
			d := func(v Verdict, rule string, exceptions ...string) Decision {
				return Decision{Verdict: v, Rule: rule, Source: "iptables", Exceptions: exceptions}
			}
			runCases(t, loadIpt(t, name, 6), []evalCase{
				{name: "allow", p: tcp6(22), want: d(Accept, "filter ufw6-user-input: -p tcp -m tcp --dport 22 -j ACCEPT")},
				{name: "allow from", p: tcp6(5432), want: d(Drop, "filter INPUT: policy DROP",
					"from fd00::/8: accept by filter ufw6-user-input: -s fd00::/8 -p tcp -m tcp --dport 5432 -j ACCEPT")},
				{name: "reject", p: tcp6(8080), want: d(Reject, "filter ufw6-user-input: -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset")},
				{name: "skip to policy", p: tcp6(445), want: d(Drop, "filter ufw6-skip-to-policy-input: -j DROP")},
				{name: "dhcpv6 from a server", p: with(udp6(546), func(p *Packet) {
					p.Dst, p.Src = netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::2")
				}), want: d(Drop, "filter INPUT: policy DROP", "from source port 547: accept by filter ufw6-before-input: -s fe80::/10 -d fe80::/10 -p udp -m udp --sport 547 --dport 546 -j ACCEPT")},
			})
		})
	}
}

func TestEvaluateDocker(t *testing.T) {
	for _, name := range []string{"docker.legacy.save", "docker.nft.save"} {
		t.Run(name, func(t *testing.T) {
			rs := loadIpt(t, name, 4)
			dnat := "nat DOCKER: ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80"
			runCases(t, rs, []evalCase{
				{name: "host port", p: tcp(22), want: Decision{Verdict: Accept, Rule: "filter INPUT: policy ACCEPT", Source: "iptables"}},
				{name: "DOCKER-USER is forward only", p: with(tcp(22), func(p *Packet) { p.Src = netip.MustParseAddr("203.0.113.9") }),
					want: Decision{Verdict: Accept, Rule: "filter INPUT: policy ACCEPT", Source: "iptables"}},
				{name: "published port", p: tcp(8080), want: Decision{Verdict: Unknown, Rule: dnat, Source: "iptables"},
					reason: "DNAT --to-destination 172.17.0.2:80"},
				{name: "published port, any interface", p: with(tcp(8080), func(p *Packet) { p.InIface = "" }),
					want: Decision{Verdict: Unknown, Rule: dnat, Source: "iptables",
						Exceptions: []string{"arriving on docker0: accept by filter INPUT: policy ACCEPT"}}},
				{name: "from the bridge", p: with(tcp(8080), func(p *Packet) { p.InIface = "docker0" }),
					want: Decision{Verdict: Accept, Rule: "filter INPUT: policy ACCEPT", Source: "iptables"}},
			})
		})
	}
}

func TestEvaluateRawMangle(t *testing.T) {
	for _, name := range []string{"raw-mangle.legacy.save", "raw-mangle.nft.save"} {
		t.Run(name, func(t *testing.T) {
			rs := loadIpt(t, name, 4)
			d := func(v Verdict, rule string) Decision { return Decision{Verdict: v, Rule: rule, Source: "iptables"} }
			runCases(t, rs, []evalCase{
				{name: "raw drop", p: tcp(4000), want: d(Drop, "raw PREROUTING: -p tcp -m tcp --dport 4000 -j DROP")},
				{name: "notrack hides NEW", p: udp(4001), want: d(Accept, "filter INPUT: policy ACCEPT")},
				{name: "mangle input drop", p: tcp(4002), want: d(Drop, "mangle INPUT: -p tcp -m tcp --dport 4002 -j DROP")},
				{name: "mark set, mark matched", p: tcp(4003), want: d(Drop, "filter INPUT: -p tcp -m tcp --dport 4003 -m mark --mark 0x1 -j DROP")},
				{name: "mark not set", p: tcp(4004), want: d(Accept, "filter INPUT: policy ACCEPT")},
				{name: "mark restored from the connection", p: tcp(4005), want: d(Unknown, "filter INPUT: -p tcp -m tcp --dport 4005 -m mark --mark 0x2 -j DROP"),
					reason: "the packet's mark comes from outside the rules"},
				{name: "nothing", p: tcp(4006), want: d(Accept, "filter INPUT: policy ACCEPT")},
			})
		})
	}
}

func TestEvaluateMerged(t *testing.T) {
	// nft and legacy iptables side by side, both at the filter priority:
	// an accept ends only its own chain, a drop or reject ends the packet.
	nft := loadNFT(t, "kitchen.json")
	ipt := loadIpt(t, "ufw.legacy.save", 4)
	rs := Merge(nft, ipt, nil)
	const blocked = "from 198.51.100.7: drop by inet filter input: ip saddr @blocked drop"
	runCases(t, rs, []evalCase{
		{name: "accepted by both", p: tcp(80), want: nftDecision(Accept, "inet filter input: tcp dport @web accept", blocked)},
		{name: "nft drops", p: tcp(22), want: nftDecision(Drop, "inet filter input: policy drop")},
		{name: "nft accepts, iptables rejects", p: tcp(8080), want: Decision{Verdict: Reject, Source: "iptables",
			Rule: "filter ufw-user-input: -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset", Exceptions: []string{blocked}}},
	})
}

func TestEvaluateNoFirewall(t *testing.T) {
	empty, err := ParseNFT([]byte(`{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	forwardOnly, err := ParseIptablesSave([]byte("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n-A FORWARD -j DROP\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"), 4)
	if err != nil {
		t.Fatal(err)
	}
	ip6only := loadNFT(t, "kitchen.json")
	ip6only.chains = slicesDelete(ip6only.chains, func(c *chain) bool { return c.family != "ip6" })
	ip6only.index()
	for _, tc := range []struct {
		name   string
		rs     *Ruleset
		want   Verdict
		reason string
	}{
		{"nil", nil, Accept, "no firewall rules: everything is accepted"},
		{"empty nft", empty, Accept, "no firewall rules: everything is accepted"},
		{"merged empties", Merge(empty, nil), Accept, "no firewall rules: everything is accepted"},
		{"forward only", forwardOnly, Accept, "no rule of filter INPUT decides, and its policy accepts"},
		{"IPv6 table, IPv4 packet", ip6only, Accept, "no chain filters inbound IPv4 traffic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.rs.Evaluate(tcp(22))
			if got.Verdict != tc.want || !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("Evaluate(tcp 22) = %+v; want %v with reason %q", got, tc.want, tc.reason)
			}
		})
	}
}

func slicesDelete(cs []*chain, del func(*chain) bool) []*chain {
	var out []*chain
	for _, c := range cs {
		if !del(c) {
			out = append(out, c)
		}
	}
	return out
}

func TestEvaluateBadPacket(t *testing.T) {
	rs := loadNFT(t, "plain.json")
	for _, p := range []Packet{
		{Proto: model.TCP, DstPort: 22},
		{Proto: model.TCP, Family: 6, Dst: local4, DstPort: 22},
		{Proto: model.TCP, Family: 4, Src: local6, DstPort: 22},
	} {
		if got := rs.Evaluate(p); got.Verdict != Unknown || got.Reason == "" {
			t.Errorf("Evaluate(%+v) = %+v; want Unknown with a reason", p, got)
		}
	}
	// An IPv4-mapped destination is IPv4.
	p := Packet{Proto: model.TCP, Dst: netip.MustParseAddr("::ffff:198.18.0.1"), DstPort: 22}
	if got := rs.Evaluate(p); got.Verdict != Accept {
		t.Errorf("Evaluate(%+v) = %+v; want accept", p, got)
	}
}

func TestUnreadable(t *testing.T) {
	rs := Merge(loadNFT(t, "plain.json"), unreadable("iptables", 4, "reading legacy iptables needs root (CAP_NET_ADMIN)"))
	got := rs.Evaluate(tcp(22))
	want := Decision{Verdict: Unknown, Source: "iptables", Reason: "reading legacy iptables needs root (CAP_NET_ADMIN)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate(tcp 22) mismatch (-want +got):\n%s", diff)
	}
	// A drop elsewhere decides anyway.
	if got := rs.Evaluate(tcp(80)); got.Verdict != Drop {
		t.Errorf("Evaluate(tcp 80) = %+v; want drop", got)
	}
	// The unreadable part is IPv4 only.
	if got := rs.Evaluate(tcp6(22)); got.Verdict != Accept {
		t.Errorf("Evaluate(tcp6 22) = %+v; want accept", got)
	}
}

func TestEvaluateLimits(t *testing.T) {
	// A chain that jumps to itself (the kernel refuses loops, a file may
	// not) and many undecidable matches: Evaluate must end, with Unknown.
	loop := `{"nftables": [
		{"table": {"family": "inet", "name": "t"}},
		{"chain": {"family": "inet", "table": "t", "name": "in", "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
		{"chain": {"family": "inet", "table": "t", "name": "x"}},
		{"rule": {"family": "inet", "table": "t", "chain": "in", "expr": [{"jump": {"target": "x"}}]}},
		{"rule": {"family": "inet", "table": "t", "chain": "x", "expr": [{"jump": {"target": "x"}}]}}]}`
	rs, err := ParseNFT([]byte(loop))
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Evaluate(tcp(22)); got.Verdict != Unknown || !strings.Contains(got.Reason, "deeper") {
		t.Errorf("Evaluate(loop) = %+v; want Unknown about nesting", got)
	}

	var sb strings.Builder
	sb.WriteString(`{"nftables": [{"table": {"family": "inet", "name": "t"}},
		{"chain": {"family": "inet", "table": "t", "name": "in", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}`)
	sb.WriteString(`,{"chain": {"family": "inet", "table": "t", "name": "sub"}}`)
	// Each undecidable jump comes back: 2^40 paths.
	for i := range 40 {
		fmt.Fprintf(&sb, `,{"rule": {"family": "inet", "table": "t", "chain": "in", "expr": [
			{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": %d}}, {"jump": {"target": "sub"}}]}}`, i)
	}
	sb.WriteString("]}")
	rs, err = ParseNFT([]byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := rs.Evaluate(tcp(22))
	if got.Verdict != Unknown || !strings.Contains(got.Reason, "and more, not evaluated") || len(got.Reason) > 1000 {
		t.Errorf("Evaluate(40 marks) = %+v; want Unknown, cut short, in a short reason", got)
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerdictText(t *testing.T) {
	for v, want := range map[Verdict]string{Unknown: "unknown", Accept: "accept", Drop: "drop", Reject: "reject", 9: "unknown"} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String() = %q; want %q", v, got, want)
		}
		if b, _ := v.MarshalText(); string(b) != want {
			t.Errorf("Verdict(%d).MarshalText() = %q; want %q", v, b, want)
		}
		var back Verdict
		if err := back.UnmarshalText([]byte(want)); err != nil || back.String() != want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %s", want, back, err, want)
		}
	}
	var v Verdict
	if err := v.UnmarshalText([]byte("maybe")); err == nil {
		t.Errorf("UnmarshalText(maybe) = %v, nil; want an error", v)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	for _, tc := range []struct {
		name string
		rs   *Ruleset
	}{
		{"firewalld", loadNFT(b, "firewalld.json")},
		{"kitchen", loadNFT(b, "kitchen.json")},
		{"ufw", loadIpt(b, "ufw.legacy.save", 4)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			p := with(tcp(5432), func(p *Packet) { p.InIface = "" })
			for b.Loop() {
				tc.rs.Evaluate(p)
			}
		})
	}
}

func TestEvaluateTooLarge(t *testing.T) {
	// Ten chains of ten jumps each to the next: 10^10 rule visits.
	var sb strings.Builder
	sb.WriteString(`{"nftables": [{"table": {"family": "inet", "name": "t"}},
		{"chain": {"family": "inet", "table": "t", "name": "c0", "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}`)
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&sb, `, {"chain": {"family": "inet", "table": "t", "name": "c%d"}}`, i)
	}
	for i := range 10 {
		for range 10 {
			fmt.Fprintf(&sb, `, {"rule": {"family": "inet", "table": "t", "chain": "c%d", "expr": [{"jump": {"target": "c%d"}}]}}`, i, i+1)
		}
	}
	sb.WriteString("]}")
	rs, err := ParseNFT([]byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Evaluate(tcp(22)); got.Verdict != Unknown || !strings.Contains(got.Reason, "too large") {
		t.Errorf("Evaluate = %+v; want Unknown: too large", got)
	}
}
