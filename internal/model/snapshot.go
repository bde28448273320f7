package model

import "time"

// Snapshot is the result of one collection.
type Snapshot struct {
	Sockets []Socket
	Host    Host
	// Hidden summarizes what could not be seen; zero when nothing was hidden.
	Hidden Hidden
	// Warnings are degradations worth telling the user (on stderr): a
	// source that failed, a fallback taken.
	Warnings []string
}

// Host describes the machine and the view whobinds had of it.
type Host struct {
	Hostname string
	OS       string
	Time     time.Time
	// EUID is the effective user whobinds ran as.
	EUID int
	// NetNS is the network namespace whobinds ran in.
	NetNS NetNS
	// Namespaces are the network namespaces collected from.
	Namespaces []NetNS
	// InChildPIDNS is true when whobinds runs inside a PID namespace that
	// is not the host's, so some holders may be invisible.
	InChildPIDNS bool
	// UnprivilegedPortStart is the first port an unprivileged process may
	// bind (Linux: net.ipv4.ip_unprivileged_port_start); 0 when unknown.
	UnprivilegedPortStart int
	// PortRanges are the reserved and dynamic port ranges that cover the
	// ports asked about (Windows: excluded port ranges and the dynamic
	// range). Only collected when a target names ports.
	PortRanges []PortRange
	// PortRangesUnknown says why the ranges could not be read, when they
	// were asked for ("netsh printed nothing").
	PortRangesUnknown string
}

// PortRangeKind says what a PortRange is.
type PortRangeKind string

// The port range kinds.
const (
	// RangeExcluded is reserved at run time, usually by Hyper-V's Host
	// Network Service or WinNAT: binding a port in it fails (WSAEACCES).
	RangeExcluded PortRangeKind = "excluded"
	// RangeAdministered is a persistent exclusion made by an administrator
	// or a component: the system never hands it out as an ephemeral port,
	// but an explicit bind still succeeds.
	RangeAdministered PortRangeKind = "administered"
	// RangeDynamic is where the system picks ephemeral ports for clients.
	RangeDynamic PortRangeKind = "dynamic"
)

// PortRange is a range of ports the system reserves or hands out.
type PortRange struct {
	Kind   PortRangeKind
	Proto  Proto
	Family int // 4 or 6
	First  uint16
	Last   uint16
	// Owner says who usually makes such a range, for people.
	Owner string
	// Fixes are ordered remedies for a port blocked by the range.
	Fixes []string
}

// Contains reports whether port lies in the range.
func (r PortRange) Contains(port int) bool { return port >= int(r.First) && port <= int(r.Last) }

// Hidden says how many sockets have holders whobinds could not see.
type Hidden struct {
	// Sockets is the number of sockets with no visible holder, or likely
	// more holders than the visible ones, because some processes could not
	// be inspected.
	Sockets int
	// Processes are the PIDs whose descriptors could not be read.
	Processes []int
	// Reason is a short explanation: "needs root", or what denied root.
	Reason string
	// NeedsRoot is true when running as root would show them.
	NeedsRoot bool
}

// FirewallVerdict is what the host firewall does with new inbound traffic
// from another host to a socket.
type FirewallVerdict struct {
	// Verdict is "accept", "drop", "reject" or "unknown".
	Verdict string
	// Rule is the rule that decided, for people; empty for a policy or
	// when unknown.
	Rule string
	// Source is "nftables" or "iptables".
	Source string
	// Reason says why the verdict is what it is, or why it is unknown
	// ("needs root", "no firewall rules: everything is accepted").
	Reason string
}
