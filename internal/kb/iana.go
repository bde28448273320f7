package kb

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

//go:embed iana.tsv.gz
var ianaGz []byte

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

type ianaTable struct {
	single map[string]*Service // "tcp/80"
	ranges map[string][]*Service
	byName map[string][]*Service
}

var loadIANA = sync.OnceValues(func() (*ianaTable, error) {
	b, err := gunzip(ianaGz)
	if err != nil {
		return nil, fmt.Errorf("iana.tsv.gz: %w", err)
	}
	return parseIANA(b)
})

func parseIANA(b []byte) (*ianaTable, error) {
	t := &ianaTable{single: map[string]*Service{}, ranges: map[string][]*Service{}, byName: map[string][]*Service{}}
	for n, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("iana.tsv line %d: %d fields", n+1, len(f))
		}
		lo, err1 := strconv.ParseUint(f[1], 10, 16)
		hi, err2 := strconv.ParseUint(f[2], 10, 16)
		if err1 != nil || err2 != nil || (f[0] != "tcp" && f[0] != "udp") {
			return nil, fmt.Errorf("iana.tsv line %d: %q", n+1, line)
		}
		k := key(f[0], uint16(lo))
		if hi != 0 {
			s := &Service{Name: f[3], Description: f[4], Proto: f[0], Port: uint16(lo), PortEnd: uint16(hi)}
			t.ranges[f[0]] = append(t.ranges[f[0]], s)
			t.byName[s.Name] = append(t.byName[s.Name], s)
			continue
		}
		if s, ok := t.single[k]; ok {
			// A second name for the same port is an alias ("www" for
			// "http"), unless the name repeats.
			if s.Name != f[3] && !containsStr(s.Aliases, f[3]) {
				s.Aliases = append(s.Aliases, f[3])
				t.byName[f[3]] = append(t.byName[f[3]], s)
			}
			continue
		}
		s := &Service{Name: f[3], Description: f[4], Proto: f[0], Port: uint16(lo)}
		t.single[k] = s
		t.byName[s.Name] = append(t.byName[s.Name], s)
	}
	return t, nil
}

func containsStr(a []string, s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// IANA returns the registry's assignment for a port: an exact assignment
// before a range that covers it.
func IANA(proto string, port uint16) (*Service, bool) {
	t, err := loadIANA()
	if err != nil {
		return nil, false
	}
	if s, ok := t.single[key(proto, port)]; ok {
		return s, true
	}
	for _, s := range t.ranges[proto] {
		if port >= s.Port && port <= s.PortEnd {
			return s, true
		}
	}
	return nil, false
}

// IANAByName returns the assignments registered under a service name.
func IANAByName(name string) []*Service {
	t, err := loadIANA()
	if err != nil {
		return nil
	}
	return t.byName[strings.ToLower(name)]
}

// IANANames returns every registered service name, for suggestions.
func IANANames() []string {
	t, err := loadIANA()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(t.byName))
	for n := range t.byName {
		names = append(names, n)
	}
	return names
}
