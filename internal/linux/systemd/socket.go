// Package systemd explains sockets that systemd opened for socket
// activation: it reads .socket unit files as systemd does (search path,
// overrides, drop-ins, "reset the list" assignments) and matches a kernel
// socket to the unit that listens on it and the service the unit starts.
//
// Unit files are read below a root directory that is a parameter ("/" on
// a live system), so fixture trees under testdata/ stand in for a host. The
// rules follow systemd.unit(5), systemd.socket(5) and systemd.syntax(7).
package systemd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/whobinds/whobinds/internal/model"
)

// SystemUnitDirs is the system manager's unit search path, highest
// priority first (systemd.unit(5), "System Unit Search Path", plus
// /lib/systemd/system for systems without merged /usr).
var SystemUnitDirs = []string{
	"/etc/systemd/system.control",
	"/run/systemd/system.control",
	"/run/systemd/transient",
	"/run/systemd/generator.early",
	"/etc/systemd/system",
	"/etc/systemd/system.attached",
	"/run/systemd/system",
	"/run/systemd/system.attached",
	"/run/systemd/generator",
	"/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system",
	"/lib/systemd/system",
	"/run/systemd/generator.late",
}

// UserUnitDirs is a user manager's unit search path for the user whose
// home directory is home, highest priority first (systemd.unit(5), "User
// Unit Search Path", without the directories below $XDG_RUNTIME_DIR).
func UserUnitDirs(home string) []string {
	return []string{
		home + "/.config/systemd/user",
		"/etc/xdg/systemd/user",
		"/etc/systemd/user",
		"/run/systemd/user",
		home + "/.local/share/systemd/user",
		"/usr/local/share/systemd/user",
		"/usr/share/systemd/user",
		"/usr/local/lib/systemd/user",
		"/usr/lib/systemd/user",
	}
}

// SocketUnit is a .socket unit as systemd would load it.
type SocketUnit struct {
	// Name is the unit's name, "ssh.socket".
	Name string
	// Path is the unit file read (below the root given to
	// LoadSocketUnits); DropIns are the drop-in files applied after it,
	// in order.
	Path    string
	DropIns []string
	// Listens are the unit's IP listeners. Unix, netlink, FIFO, vsock and
	// other non-IP listeners are left out.
	Listens []Listen
	// Accept is true when systemd accepts connections itself and starts
	// one service instance per connection (Accept=yes).
	Accept bool
	// Service is the unit systemd starts: Service=, or NAME.service, or
	// for Accept=yes the template NAME@.service.
	Service string
	// FreeBind reports FreeBind=yes: the unit may listen on addresses
	// the host does not have (yet).
	FreeBind bool
	// BindToDevice is the interface the unit's sockets are bound to.
	BindToDevice string
	// Evidence says where the unit came from: its files, or, in a unit
	// returned by MatchSocketUnit, the directive that matched and its file.
	Evidence string
}

// Listen is one IP listener of a socket unit.
type Listen struct {
	Proto model.Proto
	// Addr is the address; the zero Addr for a port-only value
	// ("ListenStream=22"), which systemd binds to [::] (dual-stack unless
	// BindIPv6Only=ipv6-only), or to 0.0.0.0 on hosts without IPv6.
	Addr netip.Addr
	Port uint16
	// BindIPv6Only is the unit's BindIPv6Only= ("default", "both",
	// "ipv6-only"); "default" follows net.ipv6.bindv6only.
	BindIPv6Only string
	// Directive is the assignment as written ("ListenStream=[::]:80") and
	// Source the file it is in.
	Directive string
	Source    string
}

// LoadSocketUnits reads the .socket units in the unit search path dirs
// (SystemUnitDirs when nil; absolute paths, read below root) as systemd
// would: a unit file in an earlier directory hides those of the same name
// in later ones; a unit masked by a symlink to /dev/null or an empty file
// is not loaded; aliases (symlinks to a unit of another name) are skipped
// and the unit is loaded under its own name; drop-ins (NAME.d/*.conf, the
// template's, dash-prefix PREFIX-.socket.d/*.conf and type-wide
// socket.d/*.conf) are applied after the unit file as findDropIns orders
// them. Template units (NAME@.socket) are not instances and are left out.
//
// Files that cannot be read are left out and reported in the returned
// error, together with what could be read.
func LoadSocketUnits(root string, dirs []string) ([]SocketUnit, error) {
	if dirs == nil {
		dirs = SystemUnitDirs
	}
	var errs []error
	seen := map[string]bool{}
	var units []SocketUnit
	for _, dir := range dirs {
		d := filepath.Join(root, dir)
		ents, err := os.ReadDir(d)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("reading unit directory %s: %w", d, err))
			}
			continue
		}
		for _, e := range ents {
			name := e.Name()
			if !strings.HasSuffix(name, ".socket") || seen[name] || isTemplate(name) {
				continue
			}
			seen[name] = true
			p := filepath.Join(d, name)
			b, ok, err := readUnitFile(root, p, name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !ok {
				continue // masked or an alias
			}
			u := SocketUnit{Name: name, Path: p}
			st := &parseState{}
			st.parse(b, p)
			dropins, err := findDropIns(root, dirs, name)
			errs = append(errs, err)
			for _, dp := range dropins {
				b, err := os.ReadFile(dp)
				if err != nil {
					errs = append(errs, fmt.Errorf("reading drop-in %s: %w", dp, err))
					continue
				}
				u.DropIns = append(u.DropIns, dp)
				st.parse(b, dp)
			}
			st.finish(&u)
			units = append(units, u)
		}
	}
	sort.Slice(units, func(i, j int) bool { return units[i].Name < units[j].Name })
	return units, errors.Join(errs...)
}

// isTemplate reports whether name is a template ("foo@.socket"), not an
// instance ("foo@bar.socket").
func isTemplate(name string) bool {
	return strings.HasSuffix(name, "@.socket")
}

// readUnitFile reads the unit file at p, following a symlink to a file of
// the same name (a linked unit). ok is false for masked units and aliases.
func readUnitFile(root, p, name string) (b []byte, ok bool, err error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, false, fmt.Errorf("reading unit %s: %w", p, err)
	}
	target := p
	if fi.Mode()&fs.ModeSymlink != 0 {
		dest, err := os.Readlink(p)
		if err != nil {
			return nil, false, fmt.Errorf("reading unit %s: %w", p, err)
		}
		if dest == "/dev/null" {
			return nil, false, nil
		}
		if filepath.Base(dest) != name {
			return nil, false, nil // an alias of another unit
		}
		if filepath.IsAbs(dest) {
			target = filepath.Join(root, dest)
		} else {
			target = filepath.Join(filepath.Dir(p), dest)
		}
	}
	b, err = os.ReadFile(target)
	if err != nil {
		return nil, false, fmt.Errorf("reading unit %s: %w", target, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, false, nil // an empty file masks the unit
	}
	return b, true, nil
}

// dropInDirNames lists the drop-in directory names specific to unit name,
// in systemd's order (unit_file_find_dirs in src/shared/dropin.c): "NAME.d",
// the template's "tmpl@.socket.d" for an instance, then each dash prefix,
// longest first ("a-b-.socket.d", "a-.socket.d").
func dropInDirNames(name string) []string {
	out := []string{name + ".d"}
	base := strings.TrimSuffix(name, ".socket")
	if at := strings.IndexByte(base, '@'); at >= 0 && at < len(base)-1 {
		out = append(out, base[:at+1]+".socket.d")
	}
	for i := len(base) - 2; i > 0; i-- {
		if base[i] == '-' {
			out = append(out, base[:i+1]+".socket.d")
		}
	}
	return out
}

// findDropIns returns the drop-in files of unit name, in the order systemd
// applies them (unit_file_find_dropin_paths): the directories are the
// unit-specific ones in every search path directory, then the type-wide
// "socket.d" ones; a file name seen in an earlier directory hides the same
// name in later ones; the files are applied sorted by file name. A
// drop-in masked by a symlink to /dev/null is returned like any other (it
// reads empty), as systemd lists it.
func findDropIns(root string, dirs []string, name string) ([]string, error) {
	var search []string
	for _, dir := range dirs {
		for _, dn := range dropInDirNames(name) {
			search = append(search, filepath.Join(root, dir, dn))
		}
	}
	for _, dir := range dirs {
		search = append(search, filepath.Join(root, dir, "socket.d"))
	}
	var errs []error
	chosen := map[string]string{} // file name → path
	for _, d := range search {
		ents, err := os.ReadDir(d)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("reading drop-in directory %s: %w", d, err))
			}
			continue
		}
		for _, e := range ents {
			f := e.Name()
			if !strings.HasSuffix(f, ".conf") {
				continue
			}
			if _, ok := chosen[f]; !ok {
				chosen[f] = filepath.Join(d, f)
			}
		}
	}
	names := make([]string, 0, len(chosen))
	for f := range chosen {
		names = append(names, f)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, f := range names {
		out[i] = chosen[f]
	}
	return out, errors.Join(errs...)
}

// parseState accumulates a unit's [Socket] settings over its files.
type parseState struct {
	listens  []Listen
	accept   bool
	service  string
	bindV6   string
	freeBind bool
	device   string
}

// parse applies one unit file or drop-in (systemd.syntax(7)): sections in
// brackets, "Key=Value" with blanks around both trimmed, "#" and ";"
// comments, and a trailing backslash continuing a line.
func (st *parseState) parse(b []byte, source string) {
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var cont strings.Builder
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cont.Len() > 0 && (strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")) {
			continue // comments inside a continued line are dropped
		}
		if l, ok := strings.CutSuffix(line, `\`); ok {
			cont.WriteString(l)
			cont.WriteString(" ")
			continue
		}
		if cont.Len() > 0 {
			cont.WriteString(line)
			line = strings.TrimSpace(cont.String())
			cont.Reset()
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && line[len(line)-1] == ']' {
			section = line[1 : len(line)-1]
			continue
		}
		if section != "Socket" {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		st.set(strings.TrimSpace(key), strings.TrimSpace(val), source)
	}
}

// set applies one assignment in the [Socket] section.
func (st *parseState) set(key, val, source string) {
	switch key {
	case "ListenStream", "ListenDatagram", "ListenSequentialPacket", "ListenFIFO",
		"ListenSpecial", "ListenNetlink", "ListenMessageQueue", "ListenUSBFunction":
		if val == "" {
			// "An empty assignment removes all ports" (load-fragment.c),
			// of every Listen type.
			st.listens = nil
			return
		}
		var proto model.Proto
		switch key {
		case "ListenStream":
			proto = model.TCP
		case "ListenDatagram":
			proto = model.UDP
		default:
			return
		}
		addr, port, ok := parseListen(val)
		if !ok {
			return
		}
		st.listens = append(st.listens, Listen{Proto: proto, Addr: addr, Port: port, Directive: key + "=" + val, Source: source})
	case "Accept":
		if b, ok := parseBool(val); ok {
			st.accept = b
		}
	case "Service":
		st.service = val
	case "BindIPv6Only":
		switch val {
		case "default", "both", "ipv6-only":
			st.bindV6 = val
		case "":
			st.bindV6 = ""
		}
	case "FreeBind":
		if b, ok := parseBool(val); ok {
			st.freeBind = b
		}
	case "BindToDevice":
		st.device = val
	}
}

// finish fills u from the accumulated settings.
func (st *parseState) finish(u *SocketUnit) {
	bindV6 := st.bindV6
	if bindV6 == "" {
		bindV6 = "default"
	}
	for i := range st.listens {
		st.listens[i].BindIPv6Only = bindV6
	}
	u.Listens = st.listens
	u.Accept = st.accept
	u.FreeBind = st.freeBind
	u.BindToDevice = st.device
	base := strings.TrimSuffix(u.Name, ".socket")
	switch {
	case st.accept:
		// Service= is refused with Accept=yes.
		u.Service = base + "@.service"
	case st.service != "":
		u.Service = st.service
	default:
		u.Service = base + ".service"
	}
	files := append([]string{u.Path}, u.DropIns...)
	u.Evidence = strings.Join(files, " + ")
}

// parseListen parses an IP listen value as systemd's socket_address_parse
// does: "PORT", "IPV4:PORT", "[IPV6]:PORT", each optionally followed by
// "%IFNAME". Unix paths ("/run/x.sock", "@abstract"), "vsock:" addresses
// and anything invalid return false.
//
// systemd first expands unit specifiers in the value ("%%" is "%", "%H"
// the host name, ...), which is why an interface must be written
// "%%eth0". Values with specifiers other than "%%" depend on the host and
// are skipped.
func parseListen(s string) (netip.Addr, uint16, bool) {
	if strings.Contains(strings.ReplaceAll(s, "%%", ""), "%") {
		return netip.Addr{}, 0, false
	}
	s = strings.ReplaceAll(s, "%%", "%")
	if s == "" || s[0] == '/' || s[0] == '@' || strings.HasPrefix(s, "vsock:") {
		return netip.Addr{}, 0, false
	}
	if p, ok := parsePort(s); ok {
		return netip.Addr{}, p, true
	}
	if i := strings.IndexByte(s, '%'); i >= 0 {
		s = s[:i]
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	// ParseAddrPort accepts "[::ffff:1.2.3.4]:80" and zones; systemd's
	// IPv4 form has no brackets, its IPv6 form always has them.
	if ap.Addr().Is4() == strings.HasPrefix(s, "[") || ap.Addr().Zone() != "" {
		return netip.Addr{}, 0, false
	}
	if ap.Port() == 0 {
		return netip.Addr{}, 0, false
	}
	return ap.Addr(), ap.Port(), true
}

// parsePort parses a port 1-65535 written in decimal digits only.
func parsePort(s string) (uint16, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint16(n), true
}

// parseBool parses systemd's booleans (parse_boolean).
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return true, true
	case "0", "no", "n", "false", "f", "off":
		return false, true
	}
	return false, false
}

// MatchSocketUnit finds the socket unit that listens on local for proto:
// a listener with the same address, or a port-only listener when local is
// a wildcard address ([::] for systemd's dual-stack default, 0.0.0.0 on
// hosts without IPv6). An exact address wins over a port-only listener.
// The unit returned has Evidence naming the matching directive and file.
//
// It is meant for listening sockets that systemd (PID 1 or a user manager)
// holds; connections accepted from an Accept=yes socket share its port
// but belong to the service instances.
func MatchSocketUnit(units []SocketUnit, proto model.Proto, local netip.AddrPort) (SocketUnit, bool) {
	addr := local.Addr().Unmap().WithZone("")
	var wild *SocketUnit
	var wildListen Listen
	for i := range units {
		for _, l := range units[i].Listens {
			if l.Proto != proto || l.Port != local.Port() {
				continue
			}
			if l.Addr.IsValid() {
				if l.Addr.Unmap() == addr {
					return withEvidence(units[i], l), true
				}
				continue
			}
			if addr.IsUnspecified() && wild == nil {
				wild, wildListen = &units[i], l
			}
		}
	}
	if wild != nil {
		return withEvidence(*wild, wildListen), true
	}
	return SocketUnit{}, false
}

func withEvidence(u SocketUnit, l Listen) SocketUnit {
	u.Evidence = l.Directive + " in " + l.Source
	u.Listens = slices.Clone(u.Listens)
	return u
}
