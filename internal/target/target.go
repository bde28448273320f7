// Package target parses and matches what a user asks about: a port, a port
// range or an address, optionally with a protocol ("tcp/80",
// "udp/[::1]:53", "8000-8100", "127.0.0.1:8080").
//
// Matching is exact: port 80 never matches 8080. An address target matches
// the sockets that would receive traffic sent to that address: those bound
// to it and wildcard listeners (0.0.0.0, and :: unless IPV6_V6ONLY keeps
// IPv4 out).
package target

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/whobinds/whobinds/internal/model"
)

// Target is one parsed query.
type Target struct {
	// Proto is TCP or UDP, or 0 for both.
	Proto model.Proto
	// Addr is the local address asked about; invalid for any address.
	Addr netip.Addr
	// Lo and Hi bound the port range, inclusive; Lo == Hi for one port.
	Lo, Hi uint16
}

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("invalid target")

// Parse parses a target: PORT, :PORT, LO-HI, ADDR:PORT, [V6ADDR]:PORT, each
// optionally prefixed by "tcp/" or "udp/".
func Parse(s string) (Target, error) {
	var t Target
	rest := strings.TrimSpace(s)
	if rest == "" {
		return t, fmt.Errorf("%w: empty target: give a port such as 80", ErrSyntax)
	}
	if proto, after, ok := strings.Cut(rest, "/"); ok {
		switch strings.ToLower(proto) {
		case "tcp":
			t.Proto = model.TCP
		case "udp":
			t.Proto = model.UDP
		default:
			return t, fmt.Errorf("%w: %q: unknown protocol %q: use tcp/ or udp/", ErrSyntax, s, proto)
		}
		rest = after
	}
	ports := rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		host := rest[:i]
		ports = rest[i+1:]
		if strings.HasPrefix(host, "[") != strings.HasSuffix(host, "]") {
			return t, fmt.Errorf("%w: %q: unbalanced brackets: write an IPv6 address as [::1]:80", ErrSyntax, s)
		}
		bracketed := strings.HasPrefix(host, "[")
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if strings.Contains(host, ":") && !bracketed {
			return t, fmt.Errorf("%w: %q: put an IPv6 address in brackets: [%s]:%s", ErrSyntax, s, host, ports)
		}
		if host != "" && host != "*" {
			a, err := netip.ParseAddr(host)
			if err != nil {
				return t, fmt.Errorf("%w: %q: %q is not an IP address", ErrSyntax, s, host)
			}
			if a.Zone() != "" {
				return t, fmt.Errorf("%w: %q: zones are not supported: drop %%%s", ErrSyntax, s, a.Zone())
			}
			t.Addr = a
		}
	}
	lo, hi, err := parseRange(ports)
	if err != nil {
		return t, fmt.Errorf("%w: %q: %v", ErrSyntax, s, err)
	}
	t.Lo, t.Hi = lo, hi
	return t, nil
}

func parseRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = parsePort(a); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = parsePort(b); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %d-%d runs backwards: write %d-%d", lo, hi, hi, lo)
	}
	return lo, hi, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, errors.New("missing port number")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a port number (want 1-65535)", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("port %s is out of range (want 1-65535)", s)
	}
	if n == 0 {
		return 0, errors.New("port 0 is not a port anyone can hold (want 1-65535)")
	}
	return uint16(n), nil
}

// Single reports whether t names exactly one port.
func (t Target) Single() bool { return t.Lo == t.Hi }

// String formats t so that Parse(t.String()) == t.
func (t Target) String() string {
	var b strings.Builder
	if t.Proto != 0 {
		b.WriteString(t.Proto.String())
		b.WriteByte('/')
	}
	if t.Addr.IsValid() {
		if t.Addr.Is6() {
			b.WriteString("[" + t.Addr.String() + "]")
		} else {
			b.WriteString(t.Addr.String())
		}
		b.WriteByte(':')
	}
	b.WriteString(strconv.Itoa(int(t.Lo)))
	if t.Hi != t.Lo {
		b.WriteString("-" + strconv.Itoa(int(t.Hi)))
	}
	return b.String()
}

// MatchPort reports whether proto and port fall within t, ignoring the
// address. Collectors use it to filter before they know more.
func (t Target) MatchPort(proto model.Proto, port uint16) bool {
	return (t.Proto == 0 || t.Proto == proto) && port >= t.Lo && port <= t.Hi
}

// Match reports whether the socket serves t: same protocol, a port in range,
// and a local address that receives traffic for t.Addr.
func (t Target) Match(s *model.Socket) bool {
	if !t.MatchPort(s.Proto, s.Local.Port()) {
		return false
	}
	if !t.Addr.IsValid() {
		return true
	}
	return Serves(s.Local.Addr(), s.V6Only, t.Addr)
}

// Serves reports whether a socket bound to local (with the given
// IPV6_V6ONLY setting) receives traffic addressed to want.
func Serves(local netip.Addr, v6only model.Tristate, want netip.Addr) bool {
	want = want.Unmap()
	if local.Is4In6() {
		return local.Unmap() == want
	}
	if local == want {
		return true
	}
	if !local.IsUnspecified() {
		return false
	}
	if local.Is4() {
		return want.Is4()
	}
	// [::] takes IPv6 always, and IPv4 unless it is v6-only.
	return want.Is6() || v6only != model.Yes
}

// MatchAny reports whether s matches any target; no targets match everything.
func MatchAny(ts []Target, s *model.Socket) bool {
	if len(ts) == 0 {
		return true
	}
	for _, t := range ts {
		if t.Match(s) {
			return true
		}
	}
	return false
}
