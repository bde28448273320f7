package firewall

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/model"
)

// fuzzPackets are evaluated against every ruleset a fuzzer gets parsed:
// fixed and symbolic destinations, interfaces and sources.
var fuzzPackets = []Packet{
	{Proto: model.TCP, Dst: local4, DstPort: 22, InIface: "eth0"},
	{Proto: model.UDP, Family: 4, DstPort: 53},
	{Proto: model.TCP, Dst: local6, DstPort: 8080, Src: netip.MustParseAddr("fd00::1")},
	{Proto: model.UDP, Family: 6, Dst: netip.IPv6Unspecified(), DstPort: 5353, InIface: "wg0"},
}

func addFiles(f *testing.F, pattern string) {
	names, err := filepath.Glob(pattern)
	if err != nil || len(names) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func checkEvaluate(t *testing.T, rs *Ruleset) {
	for _, p := range fuzzPackets {
		d := rs.Evaluate(p)
		if d.Verdict > Reject {
			t.Fatalf("Evaluate(%+v).Verdict = %d", p, d.Verdict)
		}
		if d.Reason == "" {
			t.Fatalf("Evaluate(%+v) = %+v: no reason", p, d)
		}
		if again := rs.Evaluate(p); !cmp.Equal(d, again) {
			t.Fatalf("Evaluate(%+v) differs between calls: %+v, then %+v", p, d, again)
		}
	}
}

// FuzzParseNFT checks that ParseNFT never panics, and that whatever it
// accepts evaluates, deterministically, with a verdict and a reason.
func FuzzParseNFT(f *testing.F) {
	addFiles(f, "testdata/nft/*.json")
	f.Add(nftDoc("", `[{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"meta": {"key": "iifname"}}]}, "right": {"set": [{"concat": [{"prefix": {"addr": "10.0.0.0", "len": 8}}, "eth*"]}]}}}, {"accept": null}]`))
	f.Add(nftDoc(`, "hook": "ingress"`, `[{"vmap": {"key": {"meta": {"key": "mark"}}, "data": {"set": [[1, {"accept": null}]]}}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseNFT(b)
		if err != nil {
			return
		}
		checkEvaluate(t, rs)
	})
}

// FuzzParseIptablesSave does the same for iptables-save output, of either
// family.
func FuzzParseIptablesSave(f *testing.F) {
	names, _ := filepath.Glob("testdata/iptables/*.save")
	src, _ := filepath.Glob("testdata/src/*.rules")
	for _, n := range append(names, src...) {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, filepath.Base(n)[:4] == "ufw6")
	}
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		family := 4
		if v6 {
			family = 6
		}
		rs, err := ParseIptablesSave(b, family)
		if err != nil {
			return
		}
		checkEvaluate(t, rs)
	})
}
