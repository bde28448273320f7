// Package httpsys tells who listens through http.sys, the Windows kernel
// HTTP server that owns a port on behalf of user-mode processes (the
// socket tables show such a port as owned by PID 4, System).
//
// Two kinds of facts come from here:
//
//   - the service state: which request queues exist, which processes are
//     attached to each (PID, service tag) and which URLs route to it. It
//     comes from an undocumented http.sys management IOCTL (elevated; the
//     x64 layout is reverse-engineered, see ../shared/design/windows.md
//     section 3.1) or, failing that, from the output of
//     `netsh http show servicestate view=requestq verbose=no`;
//   - the configuration store (HttpQueryServiceConfiguration): URL
//     reservations (urlacl), certificate bindings (sslcert) and the IP
//     listen list. A reservation names who may register a prefix, not who
//     listens.
//
// The decoders (ParseServiceState, ParseNetsh, URLPort and the
// configuration-store records) are portable and take bytes or text, so they
// are tested and fuzzed on every OS. The calls into Windows live in
// httpsys_windows.go; on other systems they return an error wrapping
// ErrNotSupported.
//
// Under Wine 8 none of the service-state sources exist (no
// \Device\Http\Communication, netsh prints nothing) and
// HttpQueryServiceConfiguration is a stub: the functions say so with
// ErrNotAvailable or ErrNoOutput instead of reporting an empty answer.
package httpsys

import (
	"errors"
	"net/netip"
)

// Process is a process attached to a request queue.
type Process struct {
	PID   int
	Image string // full path of the executable; "" when unknown
	Tag   uint32 // service tag of the attaching thread, 0 = none (IOCTL only)
	// Service is the service netsh names for the process: its "Tagged
	// Service" line, or the only entry of its "Services" line; "" when
	// netsh names none or several (netsh only).
	Service string
}

// Queue is one http.sys request queue and the URLs routed to it.
type Queue struct {
	Name          string // "" for an unnamed queue
	State         string // "active", "inactive", or as reported
	Processes     []Process
	ControllerPID int      // 0 = none
	URLs          []string // as registered, e.g. "HTTP://+:5985/WSMAN/"
}

// State is what http.sys serves, and where the answer came from.
type State struct {
	Queues []Queue
	Source string // SourceIOCTL or SourceNetsh
}

// Values of State.Source.
const (
	SourceIOCTL = "http.sys" // the management IOCTL, exact
	SourceNetsh = "netsh"    // parsed from netsh's text
)

// URLACL is one URL reservation: who may register Prefix, as an SDDL
// string (GX grants listen, GW delegate).
type URLACL struct {
	Prefix string // e.g. "http://+:80/Temporary_Listen_Addresses/"
	SDDL   string // e.g. "D:(A;;GX;;;WD)"
}

// SSLCert is one certificate binding of http.sys.
type SSLCert struct {
	Addr       netip.AddrPort // ip:port binding; for SNI bindings the key's address (usually 0.0.0.0)
	Host       string         // host name of an SNI binding; "" for an ip:port binding
	Thumbprint string         // certificate hash, lower-case hex
	AppID      string         // "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}", often names the product
	Store      string         // certificate store name, e.g. "MY"; "" when the binding names none
}

var (
	// ErrNotSupported is wrapped by every call on a system other than
	// Windows (and by the layouts this package does not know, such as the
	// 32-bit ones).
	ErrNotSupported = errors.New("not supported")

	// ErrNotAvailable means the source does not exist here (Wine, an old
	// Windows, a missing export): the answer is unknown, not empty.
	ErrNotAvailable = errors.New("not available on this system")

	// ErrNeedsAdmin means Windows refused the call to a non-elevated
	// process.
	ErrNeedsAdmin = errors.New("run as administrator to see which process registered each http.sys URL")

	// ErrUnknownLayout means a buffer or a text did not have a layout this
	// package knows (a Windows build that changed the undocumented IOCTL
	// structures, corrupt data, netsh output of another shape).
	ErrUnknownLayout = errors.New("unknown layout")

	// ErrNoOutput means netsh printed nothing. Wine's netsh is a stub that
	// does exactly that; it means "unknown", never "no queues".
	ErrNoOutput = errors.New("netsh printed nothing")
)
