package firewall

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseNFTErrors(t *testing.T) {
	for _, in := range []string{
		``,
		`{`,
		`[]`,
		`{"nft": []}`,
		`{"nftables": [1]}`,
		`{"nftables": [{"chain": 5}]}`,
		`{"nftables": [{"rule": "x"}]}`,
		`{"nftables": [{"rule": {"family": "inet", "table": "t", "chain": "missing", "expr": []}}]}`,
	} {
		if rs, err := ParseNFT([]byte(in)); err == nil {
			t.Errorf("ParseNFT(%q) = %v, nil; want an error", in, rs)
		}
	}
}

// baseChains describes the base chains that see an inbound packet, in
// evaluation order.
func baseChains(rs *Ruleset) []string {
	var out []string
	names := map[hook]string{hookIngress: "ingress", hookPrerouting: "prerouting", hookInput: "input"}
	for _, c := range rs.bases {
		out = append(out, fmt.Sprintf("%s %s %d %s", c.label, names[c.hook], c.prio, c.policyText))
	}
	return out
}

func TestParseNFTChains(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"plain.json", []string{"inet filter input input 0 policy drop"}},
		{"firewalld.json", []string{
			"inet firewalld mangle_PREROUTING prerouting -140 policy accept",
			"inet firewalld nat_PREROUTING prerouting -90 policy accept",
			"inet firewalld filter_PREROUTING prerouting 10 policy accept",
			"inet firewalld filter_INPUT input 10 policy accept",
		}},
		{"undecidable.json", []string{
			"netdev ing ingress ingress 0 policy accept",
			"inet early pre prerouting -300 policy accept",
			"inet early in input -10 policy accept",
			"inet filter input input 0 policy drop",
		}},
		{"docker.iptables-nft.json", []string{
			"ip nat PREROUTING prerouting -100 policy accept",
			"ip filter INPUT input 0 policy accept",
			"ip nat INPUT input 100 policy accept",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, baseChains(loadNFT(t, tc.file))); diff != "" {
				t.Errorf("base chains of %s (-want +got):\n%s", tc.file, diff)
			}
		})
	}
}

func TestParseIptablesChains(t *testing.T) {
	rs := loadIpt(t, "raw-mangle.legacy.save", 4)
	want := []string{
		"raw PREROUTING prerouting -300 policy ACCEPT",
		"mangle PREROUTING prerouting -150 policy ACCEPT",
		"mangle INPUT input -150 policy ACCEPT",
		"filter INPUT input 0 policy ACCEPT",
	}
	if diff := cmp.Diff(want, baseChains(rs)); diff != "" {
		t.Errorf("base chains of raw-mangle.legacy.save (-want +got):\n%s", diff)
	}
}

// TestNFTRuleText checks the text for people against the ruleset as it
// was written (testdata/src/kitchen.nft); where the JSON says more or
// less than the source, the difference is noted.
func TestNFTRuleText(t *testing.T) {
	rs := loadNFT(t, "kitchen.json")
	var got []string
	for _, c := range rs.chains {
		if c.name == "input" {
			for _, r := range c.rules {
				got = append(got, r.text)
			}
		}
	}
	want := []string{
		"ct state vmap { invalid : drop, established : accept, related : accept }",
		`iifname "lo" accept`,
		"ip saddr @blocked drop",
		"tcp flags & (fin | syn | rst | ack) != syn ct state new drop",
		`limit rate 10/second burst 20 packets log prefix "in: " counter`,
		"limit rate over 1000/second drop",
		"tcp dport { 25, 587, 1000-2000 } counter accept",
		"tcp dport @web accept",
		"ip saddr @admins4 tcp dport 9100 accept",
		"ip6 saddr @admins6 tcp dport 9100 accept",
		"ip saddr 10.0.0.0/8 tcp dport 5432 accept",
		"ip saddr != 192.168.0.0/16 tcp dport 6379 drop",
		"tcp dport 6379 accept",
		"meta l4proto { tcp, udp } th dport 5353 accept",
		"udp dport 53 accept",
		"tcp dport 23 reject with tcp reset",
		"udp dport 69 reject with icmpx port-unreachable", // the source says "reject"
		"tcp dport 113 reject with icmpx admin-prohibited",
		"ip daddr 192.168.1.10 tcp dport 8080 accept",
		"ip6 daddr 2001:db8::10 tcp dport 8080 accept",
		"tcp dport vmap { 3000 : accept, 3001 : drop, 3002 : jump services }",
		"tcp dport vmap @portmap",
		`iifname "eth1" tcp dport 3306 accept`,
		`iifname "wg*" accept`,
		"ip saddr . tcp dport { 203.0.113.5 . 2049, 203.0.113.6 . 2049 } accept",
		"tcp dport < 10 drop",
		"tcp dport >= 65000 accept",
		"meta nfproto ipv4 tcp dport 7000 accept",
		"meta nfproto ipv6 tcp dport 7001 accept",
		"udp sport 123 udp dport 123 accept",
		`oifname "eth0" accept`,
		"fib daddr type local tcp dport 7002 accept",
		"meta pkttype host tcp dport 7003 accept",
		"ct status dnat accept",
		"ct direction original tcp dport 7004 accept",
		"jump services",
		"tcp dport 8443 goto tls",
		"ip6 nexthdr ipv6-icmp accept",
		"ip version 4 tcp dport 7005 accept",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule texts of inet filter input (-want +got):\n%s", diff)
	}
}

// nftDoc wraps rules of one input chain (table inet t, chain in, policy
// drop) in the nft JSON schema.
func nftDoc(chainExtra string, rules ...string) []byte {
	var sb strings.Builder
	sb.WriteString(`{"nftables": [{"table": {"family": "inet", "name": "t"}},
		{"chain": {"family": "inet", "table": "t", "name": "in", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"` + chainExtra + `}}`)
	for _, r := range rules {
		fmt.Fprintf(&sb, `, {"rule": {"family": "inet", "table": "t", "chain": "in", "expr": %s}}`, r)
	}
	sb.WriteString("]}")
	return []byte(sb.String())
}

// TestNFTExpressions covers JSON forms that nft 1.0.6 does not print for
// the fixtures but the schema allows, or that other versions print.
func TestNFTExpressions(t *testing.T) {
	accept := func(match string) string { return `[` + match + `, {"accept": null}]` }
	for _, tc := range []struct {
		name string
		doc  []byte
		p    Packet
		want Verdict
	}{
		{"xt REJECT target", nftDoc("", `[{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"xt": {"type": "target", "name": "REJECT"}}]`), tcp(22), Reject},
		{"xt comment match", nftDoc("", accept(`{"xt": {"type": "match", "name": "comment"}}`)), tcp(22), Accept},
		{"xt conntrack match", nftDoc("", accept(`{"xt": {"type": "match", "name": "conntrack"}}`)), tcp(22), Unknown},
		{"xt null", nftDoc("", accept(`{"xt": null}`)), tcp(22), Unknown},
		{"ct state in a set", nftDoc("", accept(`{"match": {"op": "==", "left": {"ct": {"key": "state"}}, "right": {"set": ["new", "untracked"]}}}`)), tcp(22), Accept},
		{"ct state !=", nftDoc("", accept(`{"match": {"op": "!=", "left": {"ct": {"key": "state"}}, "right": "established"}}`)), tcp(22), Accept},
		{"ct state as a number", nftDoc("", accept(`{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": 8}}`)), tcp(22), Accept},
		{"tcp flags syn", nftDoc("", accept(`{"match": {"op": "in", "left": {"payload": {"protocol": "tcp", "field": "flags"}}, "right": "syn"}}`)), tcp(22), Accept},
		{"tcp flags on udp", nftDoc("", accept(`{"match": {"op": "in", "left": {"payload": {"protocol": "tcp", "field": "flags"}}, "right": "syn"}}`)), udp(22), Drop},
		{"raw payload", nftDoc("", accept(`{"match": {"op": "==", "left": {"payload": {"base": "th", "offset": 16, "len": 16}}, "right": 22}}`)), tcp(22), Unknown},
		{"icmp type on tcp", nftDoc("", accept(`{"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}}, "right": "echo-request"}}`)), tcp(22), Drop},
		{"meta protocol", nftDoc("", accept(`{"match": {"op": "==", "left": {"meta": {"key": "protocol"}}, "right": "ip6"}}`)), tcp6(22), Accept},
		{"meta protocol number", nftDoc("", accept(`{"match": {"op": "==", "left": {"meta": {"key": "protocol"}}, "right": 2048}}`)), tcp6(22), Drop},
		{"address range", nftDoc("", accept(`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"range": ["198.18.0.0", "198.18.0.9"]}}}`)), tcp(22), Accept},
		{"comparison on an address", nftDoc("", accept(`{"match": {"op": "<", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "198.18.0.9"}}`)), tcp(22), Unknown},
		{"continue", nftDoc("", `[{"continue": null}]`, `[{"accept": null}]`), tcp(22), Accept},
		{"queue", nftDoc("", `[{"queue": {"num": 1}}]`), tcp(22), Unknown},
		{"unknown statement", nftDoc("", `[{"frobnicate": {"x": 1}}]`), tcp(22), Unknown},
		{"set update with limit over", nftDoc("", `[{"set": {"op": "update", "elem": {"payload": {"protocol": "ip", "field": "saddr"}}, "set": "@m", "stmt": [{"limit": {"rate": 10, "per": "second", "inv": true}}]}}, {"drop": null}]`, `[{"accept": null}]`), tcp(22), Accept},
		{"ct count over", nftDoc("", `[{"ct count": {"val": 10, "inv": true}}, {"drop": null}]`, `[{"accept": null}]`), tcp(22), Accept},
		{"snat ends the chain", nftDoc("", `[{"snat": {"addr": "1.2.3.4"}}]`), tcp(22), Accept},
		{"dnat", nftDoc("", `[{"dnat": {"addr": "10.0.0.2", "port": 80}}]`), tcp(22), Unknown},
		{"missing named set", nftDoc("", accept(`{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@nope"}}`)), tcp(22), Unknown},
		{"jump to a missing chain", nftDoc("", `[{"jump": {"target": "nope"}}]`), tcp(22), Unknown},
		{"ingress device shown", nftDoc(`, "hook": "ingress", "dev": "eth1"`, `[{"drop": null}]`), tcp(22), Accept},
		{"ingress device shown, ours", nftDoc(`, "hook": "ingress", "dev": ["eth0", "eth1"]`, `[{"drop": null}]`), tcp(22), Drop},
		{"oif never on input", nftDoc("", accept(`{"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "eth9"}}`)), tcp(22), Drop},
		{"iif as a number", nftDoc("", accept(`{"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": 7}}`)), tcp(22), Drop},
		{"bitwise and on ct state", nftDoc("", accept(`{"match": {"op": "!=", "left": {"&": [{"ct": {"key": "state"}}, ["established", "related"]]}, "right": 0}}`)), tcp(22), Drop},
		{"bitwise and on a mark nothing sets", nftDoc("", accept(`{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 255]}, "right": 1}}`)), tcp(22), Unknown},
		{"bitwise and elsewhere", nftDoc("", accept(`{"match": {"op": "==", "left": {"&": [{"meta": {"key": "skuid"}}, 255]}, "right": 1}}`)), tcp(22), Unknown},
		{"xt MARK loses the mark", nftDoc("", `[{"xt": {"type": "target", "name": "MARK"}}]`, accept(`{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 0}}`)), tcp(22), Unknown},
		{"unknown operator", nftDoc("", accept(`{"match": {"op": "~", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}`)), tcp(22), Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseNFT(tc.doc)
			if err != nil {
				t.Fatalf("ParseNFT = %v", err)
			}
			if got := rs.Evaluate(tc.p); got.Verdict != tc.want {
				t.Errorf("Evaluate(%+v) = %+v; want %v", tc.p, got, tc.want)
			}
		})
	}
}
