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
}

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
