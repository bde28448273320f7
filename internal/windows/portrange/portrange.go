// Package portrange reads the port ranges Windows keeps from programs: the
// excluded (reserved) port ranges, which make bind fail with WSAEACCES
// (10013) although nobody listens on the port, and the dynamic (ephemeral)
// port range they are usually carved from. It says who usually made such a
// range and how to free a port in it.
//
// Windows has no API that lists the ranges (the persistent-reservation
// functions only answer for an exact start and count, and run-time
// reservations have no public query at all), so Excluded and Dynamic run
// netsh and parse its output by structure: numbers and '*' are not
// localized, labels are. See ../shared/design/windows.md, section 4.
//
// This file holds the types and the advice; parse.go the netsh parsers;
// netsh.go the plumbing shared by every OS; netsh_windows.go runs netsh.
package portrange

import (
	"errors"
	"fmt"

	"github.com/whobinds/whobinds/internal/model"
)

var (
	// ErrNotSupported means this operating system has no netsh: Excluded
	// and Dynamic work on Windows only.
	ErrNotSupported = errors.New("not supported")
	// ErrNoOutput means netsh printed nothing. The ranges are unknown, not
	// absent: Wine's netsh is a stub that prints nothing and exits 0.
	ErrNoOutput = errors.New("netsh printed nothing: the port ranges are unknown")
	// ErrUnknownLayout means netsh printed something that has neither the
	// shape of a range table nor of an empty one (an error message, or a
	// layout this package does not know). The ranges are unknown.
	ErrUnknownLayout = errors.New("netsh output has an unknown layout: the port ranges are unknown")
)

// Range is one excluded (reserved) port range, or the dynamic range.
type Range struct {
	Proto  model.Proto // TCP or UDP
	Family int         // 4 or 6: the netsh context (ipv4 or ipv6) it was read from
	// First and Last are the first and the last port of the range; both
	// belong to it.
	First, Last uint16
	// Administered is true when netsh marks the range with '*': a
	// persistent exclusion made by an administrator or a component. It is
	// always false for the dynamic range.
	Administered bool
}

// Contains reports whether port lies in r, First and Last included.
func (r Range) Contains(port int) bool {
	return port >= int(r.First) && port <= int(r.Last)
}

// Len is the number of ports in r.
func (r Range) Len() int { return int(r.Last) - int(r.First) + 1 }

func (r Range) String() string {
	s := fmt.Sprintf("%s/ipv%d %d-%d", r.Proto, r.Family, r.First, r.Last)
	if r.Administered {
		s += " *"
	}
	return s
}

// Find returns the first range in ranges that contains port, if any.
func Find(ranges []Range, port int) (Range, bool) {
	for _, r := range ranges {
		if r.Contains(port) {
			return r, true
		}
	}
	return Range{}, false
}

// hnsDocker is the administered exclusion that Hyper-V's Host Network
// Service makes for Docker (windows.md 4.1).
var hnsDocker = struct{ first, last uint16 }{50000, 50059}

func isHNSDocker(r Range) bool {
	return r.Administered && r.Proto == model.TCP && r.First == hnsDocker.first && r.Last == hnsDocker.last
}

// defaultDynamicStart and defaultDynamicCount are Windows' dynamic port
// range since Vista and Server 2008: 49152-65535.
const (
	defaultDynamicStart = 49152
	defaultDynamicCount = 16384
)

// LikelyOwner says, for people, who usually made an excluded range like r.
// It names the usual suspects from what is publicly known; netsh itself
// does not say who made a range.
func LikelyOwner(r Range) string {
	if r.Administered {
		if isHNSDocker(r) {
			return "a persistent exclusion; this exact range (tcp 50000-50059) is the one Hyper-V's " +
				"Host Network Service makes for Docker"
		}
		return "a persistent exclusion made by an administrator (netsh int " + ipv(r.Family) +
			" add excludedportrange, or CreatePersistent" + protoWord(r.Proto) + "PortReservation) or by a component " +
			"(the Host Network Service makes tcp 50000-50059 for Docker)"
	}
	return "a run-time reservation (not persistent), most often made by Hyper-V's Host Network Service / WinNAT " +
		"(Docker Desktop, WSL 2, Windows Sandbox), which carves such ranges from the dynamic port range"
}

// Fixes returns the remedies for port, blocked by r, in the order to try
// them (windows.md 4.1). Each names the exact command; commands that
// change the system need an elevated Command Prompt.
func Fixes(r Range, port int) []string {
	ip := ipv(r.Family)
	proto := r.Proto.String()
	show := fmt.Sprintf("netsh int %s show excludedportrange protocol=%s", ip, proto)
	other := fmt.Sprintf("Use a port outside every excluded range; list them with: %s", show)
	if r.Administered {
		del := fmt.Sprintf("netsh int %s delete excludedportrange protocol=%s startport=%d numberofports=%d",
			ip, proto, r.First, r.Len())
		fixes := []string{
			fmt.Sprintf("Bind to port %d explicitly: an administered exclusion only keeps the port out of the "+
				"dynamic pool, and an explicit bind into it usually succeeds; if yours fails with WSAEACCES (10013), "+
				"a run-time reservation overlaps it (look again with: %s)", port, show),
		}
		if isHNSDocker(r) {
			fixes = append(fixes, "Stop the Host Network Service from re-creating this range (an undocumented "+
				"setting that Microsoft support gives out), then delete it (elevated Command Prompt): "+
				`reg add HKLM\SYSTEM\CurrentControlSet\Services\hns\State /v EnableExcludedPortRange /t REG_DWORD /d 0 /f && `+
				del)
		} else {
			fixes = append(fixes, "Delete the exclusion if nothing needs it any more (elevated Command Prompt): "+del)
		}
		return append(fixes, other)
	}
	fixes := []string{
		"Restart WinNAT so that the Host Network Service gives up its reservations and makes new ones " +
			"(Docker Desktop, WSL 2 and Windows Sandbox lose NAT networking meanwhile; elevated Command Prompt): " +
			"net stop winnat && net start winnat",
	}
	if port < defaultDynamicStart {
		fixes = append(fixes, fmt.Sprintf("Move the dynamic port range back to the default %d-65535, so that "+
			"reservations are carved from there and not from port %d, then restart WinNAT (elevated Command Prompt; "+
			"see the current range with: netsh int %s show dynamicport %s): "+
			"netsh int %s set dynamicport %s start=%d num=%d && net stop winnat && net start winnat",
			defaultDynamicStart, port, ip, proto, ip, proto, defaultDynamicStart, defaultDynamicCount))
	}
	fixes = append(fixes, fmt.Sprintf("Reserve port %d for yourself while WinNAT is stopped, so that it cannot "+
		"be taken again; your program can still bind it explicitly (elevated Command Prompt): "+
		"net stop winnat && netsh int %s add excludedportrange protocol=%s startport=%d numberofports=1 store=persistent && net start winnat",
		port, ip, proto, port))
	return append(fixes, other)
}

func ipv(family int) string {
	if family == 6 {
		return "ipv6"
	}
	return "ipv4"
}

func protoWord(p model.Proto) string {
	if p == model.UDP {
		return "Udp"
	}
	return "Tcp"
}

// checkArgs rejects a protocol or family netsh has no table for.
func checkArgs(proto model.Proto, family int) error {
	if proto != model.TCP && proto != model.UDP {
		return fmt.Errorf("port ranges exist for tcp and udp only, not %s", proto)
	}
	if family != 4 && family != 6 {
		return fmt.Errorf("port ranges exist for families 4 and 6 only, not %d", family)
	}
	return nil
}
