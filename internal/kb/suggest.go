package kb

import (
	"slices"
	"sort"
	"strings"
)

// Suggest returns up to n known service names close to name (a typo, or a
// prefix), best first, for "unknown service" errors.
func Suggest(name string, n int) []string {
	name = strings.ToLower(name)
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	seen := map[string]bool{}
	consider := func(s string) {
		if seen[s] || s == name {
			return
		}
		seen[s] = true
		d := distance(name, s)
		if strings.HasPrefix(s, name) && len(name) >= 3 {
			d = min(d, 1)
		}
		if d <= max(1, len(name)/3) {
			cands = append(cands, cand{s, d})
		}
	}
	if es, err := Entries(); err == nil {
		for _, e := range es {
			for _, s := range e.Names {
				consider(s)
			}
		}
	}
	for _, s := range IANANames() {
		consider(s)
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		return cands[i].name < cands[j].name
	})
	var out []string
	for _, c := range cands {
		if len(out) == n {
			break
		}
		out = append(out, c.name)
	}
	return out
}

// distance is the Levenshtein edit distance of two ASCII strings.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// PortsNamed returns the (proto, port) pairs a service name stands for, in
// the curated knowledge and in the IANA registry, sorted.
func PortsNamed(name string) []ProtoPort {
	var out []ProtoPort
	add := func(proto string, port uint16) {
		pp := ProtoPort{proto, port}
		if !slices.Contains(out, pp) {
			out = append(out, pp)
		}
	}
	for _, e := range ByName(name) {
		for _, p := range e.Protos {
			add(p, e.Port)
		}
	}
	for _, s := range IANAByName(name) {
		if s.PortEnd == 0 { // a range is no answer to "which port"
			add(s.Proto, s.Port)
		}
	}
	slices.SortFunc(out, func(a, b ProtoPort) int {
		if a.Port != b.Port {
			return int(a.Port) - int(b.Port)
		}
		return strings.Compare(a.Proto, b.Proto)
	})
	return out
}

// ProtoPort is a protocol and port.
type ProtoPort struct {
	Proto string
	Port  uint16
}
