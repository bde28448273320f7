package kb

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The operating systems entries speak of.
const (
	Linux   = "linux"
	Windows = "windows"
	Darwin  = "darwin"
	FreeBSD = "freebsd"
)

// Risk levels, lowest first.
const (
	RiskInfo   = "info"
	RiskLow    = "low"
	RiskMedium = "medium"
	RiskHigh   = "high"
)

// Remedy kinds.
const (
	RemedyService  = "service"  // stop/disable a Windows service
	RemedyUnit     = "unit"     // stop/disable a systemd unit or launchd job
	RemedyConfig   = "config"   // change the program's configuration (e.g. bind to loopback)
	RemedyRegistry = "registry" // a Windows registry setting
	RemedyFirewall = "firewall" // restrict with a firewall rule
	RemedyPackage  = "package"  // remove the software
	RemedyOther    = "other"
)

// Entry is what whobinds knows about one port, or a range of ports, for one
// or both transport protocols. The JSON names are those of ports.json.
type Entry struct {
	// Port is the port; PortEnd, when not 0, ends a range (inclusive).
	Port    uint16 `json:"port"`
	PortEnd uint16 `json:"port_end,omitempty"`
	// Protos are "tcp", "udp" or both.
	Protos []string `json:"protos"`
	// Names are the service names users know the port by, first the main
	// one, lower case ("winrm", "wsman"); `whobinds port NAME` finds them.
	Names []string `json:"names"`
	// Title is a few words: "WinRM over HTTP".
	Title string `json:"title"`
	// Purpose says what listens here and why, in a sentence or three.
	Purpose string `json:"purpose"`
	// Owners are the expected holders, per operating system.
	Owners []Owner `json:"owners"`
	// Risk says what exposing the port beyond the host risks.
	Risk Risk `json:"risk"`
	// Remedies say how to stop, disable or restrict it, most lasting first.
	Remedies []Remedy `json:"remedies"`
	// Seed holds what the project's seed documents say about the port, when
	// they name it (the Windows tutorial, the http.sys answers).
	Seed string `json:"seed,omitempty"`
	// Sources are links to vendor or standards documentation.
	Sources []string `json:"sources"`
}

// Owner is a program, service or driver expected to hold a port.
type Owner struct {
	OS string `json:"os"`
	// Process is the process name as the OS shows it ("svchost.exe",
	// "System", "sshd", "systemd-resolved").
	Process string `json:"process,omitempty"`
	// Service is a Windows service short name ("LanmanServer") or a
	// systemd unit ("cups.service") or launchd label.
	Service string `json:"service,omitempty"`
	// Driver is a kernel driver or module ("srv2.sys", "http.sys", "nfsd").
	Driver string `json:"driver,omitempty"`
	// Addr limits the expectation to one local address ("127.0.0.53").
	Addr string `json:"addr,omitempty"`
	// Note says more, e.g. when the owner listens only if a feature is on.
	Note string `json:"note,omitempty"`
}

// Risk is how dangerous it is to let the network reach the port.
type Risk struct {
	Level string `json:"level"`
	Text  string `json:"text"`
}

// Remedy is one way to stop, disable or restrict what holds a port.
type Remedy struct {
	OS   string `json:"os"`
	Kind string `json:"kind"`
	// Text says what to do and what it costs.
	Text string `json:"text"`
	// Command is a command that does it, when there is one.
	Command string `json:"command,omitempty"`
}

// Contains reports whether the entry covers port p of protocol proto.
func (e *Entry) Contains(proto string, p uint16) bool {
	end := e.Port
	if e.PortEnd != 0 {
		end = e.PortEnd
	}
	return p >= e.Port && p <= end && slices.Contains(e.Protos, proto)
}

// OwnersOn returns the expected owners on one operating system.
func (e *Entry) OwnersOn(os string) []Owner {
	var out []Owner
	for _, o := range e.Owners {
		if o.OS == os {
			out = append(out, o)
		}
	}
	return out
}

// RemediesOn returns the remedies for one operating system.
func (e *Entry) RemediesOn(os string) []Remedy {
	var out []Remedy
	for _, r := range e.Remedies {
		if r.OS == os {
			out = append(out, r)
		}
	}
	return out
}

//go:embed ports.json
var portsJSON []byte

// ports.idx says where each entry of ports.json is, per protocol: a lookup
// decodes one entry, not the whole file (kbgen.IndexPorts writes it; a test
// checks that it is current).
//
//go:embed ports.idx
var portsIdx []byte

// span is where an entry sits in ports.json, and the ports it covers.
type span struct {
	port, end  uint16
	start, len int
}

// portIndex maps "tcp/22" to the entry of exactly that port; ranges are
// kept apart, per protocol.
type portIndex struct {
	single map[string]span
	ranges map[string][]span
}

var loadIndex = sync.OnceValue(func() *portIndex {
	ix := &portIndex{single: map[string]span{}, ranges: map[string][]span{}}
	for _, line := range strings.Split(strings.TrimSuffix(string(portsIdx), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			continue // the tests check the index; a bad line only hides an entry
		}
		n := make([]int, 4)
		for i := range n {
			n[i], _ = strconv.Atoi(f[i+1])
		}
		sp := span{port: uint16(n[0]), end: uint16(n[1]), start: n[2], len: n[3] - n[2]}
		if sp.end != 0 {
			ix.ranges[f[0]] = append(ix.ranges[f[0]], sp)
		} else if _, dup := ix.single[key(f[0], sp.port)]; !dup {
			ix.single[key(f[0], sp.port)] = sp
		}
	}
	return ix
})

// decoded caches the entries decoded from ports.json, by offset.
var decoded sync.Map // int -> *Entry

func decodeAt(sp span) (*Entry, bool) {
	if e, ok := decoded.Load(sp.start); ok {
		return e.(*Entry), true
	}
	if sp.start < 0 || sp.len <= 0 || sp.start+sp.len > len(portsJSON) {
		return nil, false
	}
	var e Entry
	if err := json.Unmarshal(portsJSON[sp.start:sp.start+sp.len], &e); err != nil {
		return nil, false
	}
	v, _ := decoded.LoadOrStore(sp.start, &e)
	return v.(*Entry), true
}

// curated is the whole of ports.json, parsed, for lookups by name.
type curated struct {
	entries []Entry
}

var loadCurated = sync.OnceValues(func() (*curated, error) { return parseCurated(portsJSON) })

// parseCurated decodes ports.json strictly: unknown fields are errors, so a
// typo fails the tests instead of vanishing.
func parseCurated(b []byte) (*curated, error) {
	var doc struct {
		Ports []Entry `json:"ports"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("ports.json: %w", err)
	}
	return &curated{entries: doc.Ports}, nil
}

func key(proto string, port uint16) string { return proto + "/" + strconv.Itoa(int(port)) }

// Lookup returns the curated entry for a port: an entry for exactly that
// port before a range that covers it. proto is "tcp" or "udp". It decodes
// only that entry.
func Lookup(proto string, port uint16) (*Entry, bool) {
	ix := loadIndex()
	if sp, ok := ix.single[key(proto, port)]; ok {
		return decodeAt(sp)
	}
	for _, sp := range ix.ranges[proto] {
		if port >= sp.port && port <= sp.end {
			return decodeAt(sp)
		}
	}
	return nil, false
}

// Entries returns every curated entry, in file order (by port).
func Entries() ([]Entry, error) {
	c, err := loadCurated()
	if err != nil {
		return nil, err
	}
	return c.entries, nil
}

// ByName returns the curated entries that a service name names, matched
// without regard to case.
func ByName(name string) []*Entry {
	c, err := loadCurated()
	if err != nil {
		return nil
	}
	name = strings.ToLower(name)
	var out []*Entry
	for i := range c.entries {
		if slices.Contains(c.entries[i].Names, name) {
			out = append(out, &c.entries[i])
		}
	}
	return out
}
