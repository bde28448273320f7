// Package explain is the pure stage between the engine and the renderer:
// from a socket table it derives what a reader needs to judge a socket,
// such as who can reach it. It makes no OS calls.
package explain

import (
	"net/netip"

	"github.com/whobinds/whobinds/internal/model"
)

// Scope is how far a socket's address reaches.
type Scope string

// Scopes, narrowest first. The JSON schema uses the same strings.
const (
	ScopeLoopback  Scope = "loopback"
	ScopeLinkLocal Scope = "link-local"
	ScopePrivate   Scope = "private"
	ScopePublic    Scope = "public"
	ScopeAny       Scope = "any"
)

// Exposure says who can reach a socket, judged from its address alone
// (firewalls are not considered here).
type Exposure struct {
	Scope Scope
	// Text says it for people: "loopback only", "every IPv4 address", ...
	Text string
}

var (
	cgnat = netip.MustParsePrefix("100.64.0.0/10")
	ula   = netip.MustParsePrefix("fc00::/7")
)

// ExposureOf classifies the local address of s.
func ExposureOf(s *model.Socket) Exposure {
	a := s.Local.Addr()
	dev := ""
	if s.Interface != "" {
		dev = " via interface " + s.Interface
	} else if s.IfIndex != 0 {
		dev = " via one interface (SO_BINDTODEVICE)"
	}
	switch {
	case a.IsUnspecified() && a.Is4():
		return Exposure{ScopeAny, "every IPv4 address" + dev}
	case a.IsUnspecified() && s.V6Only == model.Yes:
		return Exposure{ScopeAny, "every IPv6 address (IPv6 only)" + dev}
	case a.IsUnspecified():
		return Exposure{ScopeAny, "every IPv4 and IPv6 address" + dev}
	}
	u := a.Unmap()
	switch {
	case u.IsLoopback():
		return Exposure{ScopeLoopback, "this host only (loopback " + u.String() + ")"}
	case u.IsLinkLocalUnicast():
		return Exposure{ScopeLinkLocal, "the local link only (" + u.String() + ")" + dev}
	case u.IsPrivate() || cgnat.Contains(u) || ula.Contains(u):
		return Exposure{ScopePrivate, "a private network address (" + u.String() + ")" + dev}
	case u.IsMulticast():
		return Exposure{ScopePrivate, "a multicast group (" + u.String() + ")" + dev}
	}
	return Exposure{ScopePublic, "a public address (" + u.String() + ")" + dev}
}
