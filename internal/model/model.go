// Package model is the vocabulary every stage of the pipeline shares:
// sockets, the processes that hold them, and the attributions that say why
// they are there. It has no OS imports; the collectors fill these types, the
// explain and render stages only read them.
//
// This file is just the types. Socket states and protocols are in state.go.
package model

import (
	"net/netip"
	"time"
)

// Socket is one kernel socket: a listener, a bound UDP socket or (with -a) a
// connection.
type Socket struct {
	Proto  Proto
	Local  netip.AddrPort
	Remote netip.AddrPort // zero for listeners and unconnected UDP sockets
	State  State

	// Inode is the socket's inode number in sockfs, the key that joins the
	// kernel's socket table to the file descriptors of processes. Zero when
	// the kernel did not report one.
	Inode uint64
	// UID is the user that created the socket, as the kernel reports it. It is
	// not necessarily the user of the processes that hold it now.
	UID uint32
	// NetNS is the network namespace the socket lives in.
	NetNS NetNS
	// RecvQ and SendQ are the queue lengths in bytes, or for listeners the
	// accept backlog in use and its limit.
	RecvQ, SendQ uint32
	// V6Only says whether an IPv6 socket refuses IPv4-mapped traffic
	// (IPV6_V6ONLY). Unknown for IPv4 sockets and when the kernel did not say.
	V6Only Tristate
	// IfIndex is the interface the socket is bound to (SO_BINDTODEVICE), 0 for
	// none; Interface is its name where known.
	IfIndex   uint32
	Interface string

	// Holders are every process that has a file descriptor for the socket, in
	// ascending PID order. A prefork server's workers, inherited descriptors
	// and descriptors passed over unix sockets are all kept.
	Holders []Holder
	// Hidden says why Holders are empty or likely incomplete ("needs
	// root"), and is empty when every holder could be seen.
	Hidden string

	// Attributions say why the socket is there, most specific first.
	Attributions []Attribution
}

// IsListener reports whether the socket accepts connections or datagrams
// from anyone: a TCP listener or an unconnected UDP socket.
func (s *Socket) IsListener() bool {
	if s.Proto == UDP {
		return s.State == Close
	}
	return s.State == Listen
}

// Family is 4 or 6, from the local address.
func (s *Socket) Family() int {
	if s.Local.Addr().Is4() {
		return 4
	}
	return 6
}

// NetNS identifies a network namespace.
type NetNS struct {
	// Inode is the namespace's inode number (as in "net:[4026531840]").
	Inode uint64
	// Name labels the namespace for people: "host", a name under
	// /run/netns, a container, or a process that lives in it.
	Name string
}

// Holder is one process that holds a socket.
type Holder struct {
	PID int
	// FDs are the descriptor numbers by which the process holds the socket,
	// ascending.
	FDs []int
	// Process has the details of the process; it is shared between every
	// socket the process holds. Nil only if the process vanished before its
	// details could be read.
	Process *Process
}

// Process is what is known about one process.
type Process struct {
	PID  int
	PPID int
	// NSPID is the PID inside the process's own PID namespace when that
	// differs from PID (a process in a container); 0 otherwise.
	NSPID int
	// Name is the kernel's short name (comm), at most 15 bytes.
	Name string
	// Exe is the path of the executable. ExeDeleted is true when the file
	// was deleted or replaced since the process started.
	Exe        string
	ExeDeleted bool
	Cmdline    []string
	UID        uint32
	User       string // empty when the UID has no name
	// Start is when the process started. StartTicks is the same instant in
	// clock ticks since boot, as /proc/PID/stat field 22 gives it: together
	// with PID it identifies the process across PID reuse.
	Start      time.Time
	StartTicks uint64
	// Cgroup is the process's cgroup path in the hierarchy that systemd
	// manages (cgroup v2, or the v1 name=systemd hierarchy).
	Cgroup string
	// PIDNS is the inode of the process's PID namespace; 0 when unreadable.
	PIDNS uint64
	// Ancestors is the parent chain, nearest first, ending at PID 1 or at
	// the first ancestor that could not be read.
	Ancestors []Ancestor
	// Unreadable lists what could not be read about the process and why,
	// e.g. "exe: permission denied".
	Unreadable []string
}

// Ancestor is one step of a parent chain.
type Ancestor struct {
	PID  int
	Name string
	// Cmdline is the ancestor's command line, when readable.
	Cmdline []string
}

// AttrKind says what an Attribution is.
type AttrKind string

// The attribution kinds. The JSON schema (docs/json.md) lists the same
// strings; add new ones, never rename them.
const (
	// AttrUnit: the holder runs in a systemd unit (service, scope, or a user
	// unit under user@UID.service).
	AttrUnit AttrKind = "systemd-unit"
	// AttrSocketActivation: the socket was opened by a socket activator
	// (systemd, systemd-socket-activate, inetd) for a service it starts.
	AttrSocketActivation AttrKind = "socket-activation"
	// AttrContainer: the holder runs in a container.
	AttrContainer AttrKind = "container"
	// AttrForwarder: the holder is a port forwarder for a container.
	AttrForwarder AttrKind = "forwarder"
	// AttrKernel: no process holds the socket; the kernel does.
	AttrKernel AttrKind = "kernel"
	// AttrStartedBy: the holder's parent chain, when it says more than
	// "started by PID 1".
	AttrStartedBy AttrKind = "started-by"
	// AttrService: the Windows service inside the holder (from the
	// socket's service tag, or every service of a shared host process,
	// marked Ambiguous). Name is the short name, Detail the display name.
	AttrService AttrKind = "windows-service"
	// AttrHTTPSys: a URL registered with the kernel HTTP driver (http.sys)
	// that made System (PID 4) listen. Name is the URL prefix, Service the
	// service (or PID) that registered it.
	AttrHTTPSys AttrKind = "httpsys-url"
	// AttrRPC: RPC interfaces registered on this port with the endpoint
	// mapper or rpcbind. Name lists them.
	AttrRPC AttrKind = "rpc-interface"
)

// Attribution is one reason a socket exists, with its evidence.
type Attribution struct {
	Kind AttrKind
	// PID is the holder this attribution is about, 0 for the socket itself.
	PID int
	// Name is the main subject: a unit, a .socket unit, a container name,
	// a kernel device or subsystem, a forwarder's container.
	Name string
	// Manager says who manages Name: "system" or "user@1000" for units;
	// "docker", "podman", "containerd", "cri-o", "kubernetes", "lxc" for
	// containers; "systemd-socket-activate" or "systemd" for activation.
	Manager string
	// ID is a container ID.
	ID string
	// Pod is a Kubernetes pod UID.
	Pod string
	// Image is a container's image.
	Image string
	// Service is the service a socket unit or activator starts.
	Service string
	// Target is where a forwarder sends traffic (a container address and
	// port); invalid when not known.
	Target netip.AddrPort
	// Detail is a sentence for people that says what the evidence means.
	Detail string
	// Evidence is where the attribution came from: a cgroup path, a unit
	// file, a command line, a kernel interface.
	Evidence string
	// Ambiguous is true when the attribution is one of several candidates.
	Ambiguous bool
}

// Tristate is a boolean that may be unknown.
type Tristate int8

// Tristate values.
const (
	Unknown Tristate = iota
	No
	Yes
)

// Bool converts b to Yes or No.
func Bool(b bool) Tristate {
	if b {
		return Yes
	}
	return No
}
