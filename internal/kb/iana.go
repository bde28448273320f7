package kb

import (
	"bytes"
	_ "embed"
	"strconv"
	"strings"
	"sync"
)

// The IANA registry, as kbgen.CompactIANA writes it: single ports sorted
// by protocol and port, and ranges. A lookup binary-searches the lines;
// nothing is parsed until a name is looked up.
var (
	//go:embed iana.tsv
	ianaSingles []byte
	//go:embed iana-ranges.tsv
	ianaRanges []byte
)

// Service is one IANA assignment.
type Service struct {
	// Name is the service name ("http"); Aliases are the other names
	// registered for the same port and protocol ("www", "www-http").
	Name        string
	Aliases     []string
	Description string
	// Proto is "tcp" or "udp".
	Proto string
	// Port and PortEnd (0 for a single port) are the assignment's range.
	Port, PortEnd uint16
}

// ianaLine is one parsed line of the tables.
type ianaLine struct {
	proto      string
	port, end  uint16
	name, desc string
}

func parseIANALine(l []byte) (ianaLine, bool) {
	f := bytes.SplitN(l, []byte{'\t'}, 5)
	if len(f) != 5 {
		return ianaLine{}, false
	}
	p, err1 := strconv.ParseUint(string(f[1]), 10, 16)
	e, err2 := strconv.ParseUint(string(f[2]), 10, 16)
	if err1 != nil || err2 != nil {
		return ianaLine{}, false
	}
	return ianaLine{string(f[0]), uint16(p), uint16(e), string(f[3]), string(f[4])}, true
}

// lineAt returns the line containing byte i of b, and where it starts.
func lineAt(b []byte, i int) ([]byte, int) {
	start := bytes.LastIndexByte(b[:i], '\n') + 1
	end := bytes.IndexByte(b[start:], '\n')
	if end < 0 {
		return b[start:], start
	}
	return b[start : start+end], start
}

// IANA returns the registry's assignment for a port: an exact assignment
// before a range that covers it.
func IANA(proto string, port uint16) (*Service, bool) {
	b := ianaSingles
	before := func(l ianaLine) bool { // l sorts before (proto, port)
		return l.proto < proto || l.proto == proto && l.port < port
	}
	// Find the first line not before the key: a binary search over bytes,
	// each probe moved to the start of its line.
	lo, hi := 0, len(b)
	for lo < hi {
		mid := int(uint(lo+hi) / 2)
		line, start := lineAt(b, mid)
		l, ok := parseIANALine(line)
		if ok && before(l) {
			lo = start + len(line) + 1
		} else {
			hi = start
		}
	}
	var s *Service
	for i := lo; i < len(b); {
		line, start := lineAt(b, i)
		l, ok := parseIANALine(line)
		if !ok || l.proto != proto || l.port != port {
			break
		}
		if s == nil {
			s = &Service{Name: l.name, Description: l.desc, Proto: proto, Port: port}
		} else if l.name != s.Name && !containsStr(s.Aliases, l.name) {
			s.Aliases = append(s.Aliases, l.name)
		}
		i = start + len(line) + 1
	}
	if s != nil {
		return s, true
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(ianaRanges, []byte{'\n'}), []byte{'\n'}) {
		if l, ok := parseIANALine(line); ok && l.proto == proto && port >= l.port && port <= l.end {
			return &Service{Name: l.name, Description: l.desc, Proto: proto, Port: l.port, PortEnd: l.end}, true
		}
	}
	return nil, false
}

func containsStr(a []string, s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// ianaNames maps every service name to its assignments; built on the
// first name lookup, which `whobinds port NAME` and suggestions need.
var ianaNames = sync.OnceValue(func() map[string][]*Service {
	m := map[string][]*Service{}
	for _, table := range [][]byte{ianaSingles, ianaRanges} {
		for _, line := range bytes.Split(bytes.TrimSuffix(table, []byte{'\n'}), []byte{'\n'}) {
			l, ok := parseIANALine(line)
			if !ok {
				continue
			}
			if l.end == 0 {
				// Aliases come from the port's own lookup, which also
				// makes every name of a port return the same service.
				if s, ok := IANA(l.proto, l.port); ok {
					if !containsService(m[l.name], s) {
						m[l.name] = append(m[l.name], s)
					}
				}
				continue
			}
			m[l.name] = append(m[l.name], &Service{Name: l.name, Description: l.desc, Proto: l.proto, Port: l.port, PortEnd: l.end})
		}
	}
	return m
})

func containsService(ss []*Service, s *Service) bool {
	for _, x := range ss {
		if x.Proto == s.Proto && x.Port == s.Port && x.PortEnd == s.PortEnd {
			return true
		}
	}
	return false
}

// IANAByName returns the assignments registered under a service name.
func IANAByName(name string) []*Service {
	return ianaNames()[strings.ToLower(name)]
}

// IANANames returns every registered service name, for suggestions.
func IANANames() []string {
	m := ianaNames()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	return names
}
