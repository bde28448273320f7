package act

// This file holds `whobinds check`: its types, the orchestration of the
// trial binds, the parsers of the Linux facts, and the pure explanation of
// why a port can or cannot be bound. check_linux.go and check_windows.go
// make the trial binds and read the host's facts (the checkOS seam); on
// other systems Check returns an error wrapping engine.ErrNotSupported.
//
// What the trial binds do, and why (checked against Linux 6.x; see
// check_linux_test.go):
//
//   - A TCP server sets SO_REUSEADDR, binds and listens (Go, nginx,
//     Apache, PostgreSQL... all do), so the server trial does exactly that.
//     On Linux a bind with SO_REUSEADDR still fails wherever a listener
//     covers the address, and wherever a socket without SO_REUSEADDR does
//     (a TIME-WAIT leftover keeps the option of the socket it came from);
//     after a successful bind, listen did not fail in any case tried, so
//     the bind decides.
//   - When the server trial works, a second TCP trial without SO_REUSEADDR
//     tells whether TIME-WAIT leftovers (or sockets bound with
//     SO_REUSEADDR) would stop a server that does not set it.
//   - When the server trial fails with EADDRINUSE, a TCP trial with
//     SO_REUSEPORT binds (never listens, so it cannot take a connection
//     meant for the holder) to tell whether a second server could share
//     the port with the holder.
//   - UDP servers rarely set SO_REUSEADDR, so the UDP trial is a plain
//     bind; no variant with SO_REUSEADDR or SO_REUSEPORT is tried on a
//     port in use, because a bound UDP socket in such a group receives
//     datagrams at once, and a trial must not take one.
//   - Without --addr, 0.0.0.0 and [::] (IPV6_V6ONLY) are tried apart, which
//     together decide what a dual-stack wildcard bind would; a failed
//     dual-stack [::] trial is retried with IPV6_V6ONLY to tell whether
//     only the IPv4 side is taken.
//   - On Windows the trial sets SO_EXCLUSIVEADDRUSE, as a careful server
//     does; WSAEACCES (10013) then means an excluded port range, a socket
//     that holds the port exclusively, or a security product.
//
// Every trial socket is closed at once.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
	"github.com/whobinds/whobinds/internal/windows/httpsys"
	"github.com/whobinds/whobinds/internal/windows/portrange"
)

// BindError classifies why a trial bind failed, the same way on every
// system.
type BindError string

// The classes of BindError. The JSON output of `whobinds check` uses the
// same strings.
const (
	BindOK       BindError = ""
	BindInUse    BindError = "in-use"    // EADDRINUSE; WSAEADDRINUSE (10048)
	BindDenied   BindError = "denied"    // EACCES, EPERM; WSAEACCES (10013)
	BindNotLocal BindError = "not-local" // EADDRNOTAVAIL; WSAEADDRNOTAVAIL (10049)
	BindNoFamily BindError = "no-family" // EAFNOSUPPORT: the address family is off
	BindFailed   BindError = "failed"    // anything else
)

// BindOptions say how a trial socket is set up before it binds.
type BindOptions struct {
	// ReuseAddr sets SO_REUSEADDR (Linux only: on Windows that option lets
	// a socket take over another's port, so the trial never sets it there
	// and sets SO_EXCLUSIVEADDRUSE instead).
	ReuseAddr bool
	// ReusePort sets SO_REUSEPORT (Linux only).
	ReusePort bool
	// V6Only sets IPV6_V6ONLY on an IPv6 socket; Unknown keeps the
	// system's default (Linux: net.ipv6.bindv6only, usually off).
	V6Only model.Tristate
	// Listen calls listen after bind (TCP only).
	Listen bool
}

// BindTrial is one trial bind and its outcome. The socket is closed at once.
type BindTrial struct {
	Proto model.Proto
	Addr  netip.AddrPort
	BindOptions
	// Err is BindOK when every step worked.
	Err BindError
	// Step is the call that failed: "socket", "setsockopt", "bind" or
	// "listen"; empty on success.
	Step string
	// Code names the system's error: "EADDRINUSE", "WSAEACCES (10013)".
	Code string
}

// OK reports whether the trial bind worked.
func (t *BindTrial) OK() bool { return t.Err == BindOK }

func (t *BindTrial) failure() string {
	if t.OK() {
		return ""
	}
	if t.Code == "" {
		return t.Step + ": " + string(t.Err)
	}
	return t.Step + ": " + t.Code
}

// BindAttempt is everything tried for one local address: the trial a server
// would make, and the variants that tell which socket option would change
// the answer (nil when not tried).
type BindAttempt struct {
	Addr netip.Addr
	// Server is the trial a typical server makes (see the file comment).
	Server BindTrial
	// Plain is a TCP trial without SO_REUSEADDR, made on Linux when Server
	// worked.
	Plain *BindTrial
	// ReusePort is a TCP bind with SO_REUSEADDR and SO_REUSEPORT, made on
	// Linux when Server failed with BindInUse.
	ReusePort *BindTrial
	// V6Only is a trial with IPV6_V6ONLY set, made when a dual-stack [::]
	// Server trial failed with BindInUse.
	V6Only *BindTrial
}

// PortSpan is an inclusive range of ports.
type PortSpan struct{ First, Last int }

// Contains reports whether port lies in s.
func (s PortSpan) Contains(port int) bool { return s.First > 0 && port >= s.First && port <= s.Last }

func (s PortSpan) String() string {
	if s.First == s.Last {
		return strconv.Itoa(s.First)
	}
	return strconv.Itoa(s.First) + "-" + strconv.Itoa(s.Last)
}

// BindFacts are what the host says about binding, besides the trial binds.
// Fields of the other system stay zero.
type BindFacts struct {
	// OS is "linux" or "windows".
	OS string
	// EUID is the effective user ID, -1 where there is none (Windows);
	// User its name, when known.
	EUID int
	User string

	// UnprivilegedPortStart is net.ipv4.ip_unprivileged_port_start (per
	// network namespace; it applies to IPv6 too); -1 when unknown.
	UnprivilegedPortStart int
	// CapNetBindService says whether CAP_NET_BIND_SERVICE is in this
	// process's effective set.
	CapNetBindService model.Tristate
	// LocalPortRange is net.ipv4.ip_local_port_range, where the kernel
	// picks ephemeral ports (for IPv6 too); zero when unknown.
	LocalPortRange PortSpan
	// ReservedPorts is net.ipv4.ip_local_reserved_ports: ports never
	// picked as ephemeral ports. ReservedPortsText is the list as the
	// kernel printed it, for the fix that extends it.
	ReservedPorts     []PortSpan
	ReservedPortsText string

	// Excluded are Windows' excluded port ranges of the protocol, both
	// families; ExcludedUnknown says why they could not be read.
	Excluded        []portrange.Range
	ExcludedUnknown string
	// Dynamic are Windows' dynamic port ranges of the protocol (one per
	// family).
	Dynamic []portrange.Range
	// URLACLs are http.sys's URL reservations; URLACLsUnknown says why
	// they could not be read.
	URLACLs        []httpsys.URLACL
	URLACLsUnknown string

	// Unknown lists, one sentence each, facts that could not be read.
	Unknown []string
}

// BindReason says why an address cannot be bound. The JSON output uses the
// same strings.
type BindReason string

// The reasons.
const (
	ReasonInUse      BindReason = "in-use"
	ReasonPrivileged BindReason = "privileged"
	ReasonExcluded   BindReason = "excluded-range"
	ReasonNotLocal   BindReason = "not-local"
	ReasonDenied     BindReason = "denied"
	ReasonNoFamily   BindReason = "no-family"
	ReasonFailed     BindReason = "failed"
)

// AddrResult is the verdict for one local address.
type AddrResult struct {
	Addr netip.Addr
	// V6Only is the IPV6_V6ONLY setting of the trial (Unknown: the
	// system's default, dual-stack on Linux unless net.ipv6.bindv6only).
	V6Only   model.Tristate
	Bindable bool
	// Reason is empty when Bindable.
	Reason BindReason
	// Error is the failed call and the system's error, "bind: EACCES".
	Error string
	// Text says in one sentence what happened.
	Text string
}

// BindConflict is a socket in the way of a trial bind.
type BindConflict struct {
	// Socket points into CheckReport.Snapshot.
	Socket *model.Socket
	// Blocks are the addresses whose trial it stands in the way of.
	Blocks []netip.Addr
	// Why says how the socket blocks them, for people.
	Why string
}

// CheckFix is one remedy: Text says what and why; Command, when set, does it.
type CheckFix struct {
	Text    string
	Command string
}

// CheckReport is the answer of Check for one protocol and port.
type CheckReport struct {
	Proto model.Proto
	Port  uint16
	// Bindable is true when the current user could bind the port now on
	// every address tried (an address family that is off does not count).
	Bindable bool
	Addrs    []AddrResult
	// Conflicts are the sockets in the way, holders first, then the
	// TIME-WAIT leftovers and connections that use the port.
	Conflicts []BindConflict
	// Notes say what socket options would and would not change, and other
	// facts worth knowing; Warnings are risks for a server on this port
	// even when it binds now (the ephemeral range).
	Notes    []string
	Warnings []string
	// Fixes are ordered, most fitting first.
	Fixes []CheckFix
	Facts BindFacts
	// Snapshot is what the engine saw on the port (every state); nil when
	// it was not needed or could not be collected (SnapshotErr says why).
	Snapshot    *model.Snapshot
	SnapshotErr string
}

// Holders returns the conflicts that a process or the kernel holds open
// (listeners and bound sockets), not the TIME-WAIT leftovers and
// connections.
func (r *CheckReport) Holders() []BindConflict {
	var out []BindConflict
	for _, c := range r.Conflicts {
		if holdsPort(c.Socket) {
			out = append(out, c)
		}
	}
	return out
}

// CheckRequest says what to check.
type CheckRequest struct {
	// Proto is TCP or UDP.
	Proto model.Proto
	Port  uint16
	// Addr is the local address to bind; invalid means every address:
	// 0.0.0.0 and [::] (with IPV6_V6ONLY) are tried apart.
	Addr netip.Addr
	// Collect lists sockets, usually (*engine.Engine).Collect. Check calls
	// it only when a trial bind fails or a note needs the sockets on the
	// port; nil skips it, and conflicts are not named.
	Collect func(context.Context, engine.Query) (*model.Snapshot, error)
}

// checkOS is what an operating system provides for Check; check_linux.go
// and check_windows.go set it in init.
type checkOS interface {
	// trial makes the trial bind t describes, closes the socket at once,
	// and fills t.Err, t.Step and t.Code.
	trial(t *BindTrial)
	// facts reads what the host says about binding port of proto.
	facts(ctx context.Context, proto model.Proto, port uint16) BindFacts
}

var checkSys checkOS

// Check tells whether the current user could bind proto/port now: it
// makes real trial binds (closed at once), asks the engine who is in the
// way when one fails, and explains the outcome with the host's facts.
func Check(ctx context.Context, req CheckRequest) (*CheckReport, error) {
	if checkSys == nil {
		return nil, fmt.Errorf("trial binds on %s: %w", runtime.GOOS, engine.ErrNotSupported)
	}
	if req.Proto != model.TCP && req.Proto != model.UDP {
		return nil, fmt.Errorf("check: protocol %s: want tcp or udp", req.Proto)
	}
	if req.Port == 0 {
		return nil, errors.New("check: port 0 is not a port anyone can hold")
	}
	in := CheckInput{Proto: req.Proto, Port: req.Port}
	in.Facts = checkSys.facts(ctx, req.Proto, req.Port)
	for _, w := range checkAddrs(req.Addr) {
		in.Attempts = append(in.Attempts, checkAttempt(checkSys, in.Facts.OS, req.Proto, w, req.Port))
	}
	if req.Collect != nil && needSockets(in.Facts.OS, in.Attempts) {
		t := target.Target{Proto: req.Proto, Lo: req.Port, Hi: req.Port}
		snap, err := req.Collect(ctx, engine.Query{
			TCP: req.Proto == model.TCP, UDP: req.Proto == model.UDP,
			AllStates: true, Targets: []target.Target{t}, SkipRPC: true,
		})
		if err != nil {
			in.SnapshotErr = err.Error()
		} else {
			in.Snapshot = snap
		}
	}
	return ExplainCheck(in), nil
}

// wildcard is one address to try, with the IPV6_V6ONLY setting of the
// trial.
type wildcard struct {
	addr   netip.Addr
	v6only model.Tristate
}

// checkAddrs are the addresses to try: the one asked for, with the
// system's IPV6_V6ONLY default, or both wildcards apart (0.0.0.0, and [::]
// with IPV6_V6ONLY).
func checkAddrs(a netip.Addr) []wildcard {
	if a.IsValid() {
		return []wildcard{{a, model.Unknown}}
	}
	return []wildcard{{netip.IPv4Unspecified(), model.Unknown}, {netip.IPv6Unspecified(), model.Yes}}
}

// checkAttempt makes the server trial for one address and the variants
// that explain its outcome (see the file comment).
func checkAttempt(sys checkOS, os string, proto model.Proto, w wildcard, port uint16) BindAttempt {
	at := BindAttempt{Addr: w.addr}
	at.Server = serverTrial(os, proto, w, port)
	sys.trial(&at.Server)
	linux := os == "linux"
	switch {
	case at.Server.OK() && linux && proto == model.TCP:
		t := at.Server
		t.ReuseAddr = false
		sys.trial(&t)
		at.Plain = &t
	case at.Server.Err == BindInUse && linux && proto == model.TCP:
		t := at.Server
		t.ReusePort, t.Listen = true, false
		sys.trial(&t)
		at.ReusePort = &t
	}
	if at.Server.Err == BindInUse && isDualStack(w.addr, at.Server.V6Only) {
		t := at.Server
		t.V6Only, t.ReusePort = model.Yes, false
		sys.trial(&t)
		at.V6Only = &t
	}
	return at
}

// serverTrial is the trial a typical server makes on os.
func serverTrial(os string, proto model.Proto, w wildcard, port uint16) BindTrial {
	t := BindTrial{Proto: proto, Addr: netip.AddrPortFrom(w.addr, port)}
	t.Listen = proto == model.TCP
	t.ReuseAddr = os == "linux" && proto == model.TCP
	if w.addr.Is6() && !w.addr.Is4In6() {
		t.V6Only = w.v6only
	}
	return t
}

// isDualStack reports whether a socket bound to a with the given
// IPV6_V6ONLY setting also takes IPv4 (Unknown: Linux's default, off).
func isDualStack(a netip.Addr, v6only model.Tristate) bool {
	return a.Is6() && !a.Is4In6() && a.IsUnspecified() && v6only != model.Yes
}

// needSockets reports whether the explanation needs the sockets on the
// port: a port in use, a Windows denial (a socket that holds the port
// exclusively looks the same as an excluded range), or a port that binds
// only with SO_REUSEADDR.
func needSockets(os string, as []BindAttempt) bool {
	for _, a := range as {
		switch {
		case a.Server.Err == BindInUse:
			return true
		case a.Server.Err == BindDenied && os == "windows":
			return true
		case a.Plain != nil && !a.Plain.OK():
			return true
		}
	}
	return false
}

// CheckInput is everything ExplainCheck judges: the trial binds, the
// host's facts and the sockets on the port.
type CheckInput struct {
	Proto    model.Proto
	Port     uint16
	Attempts []BindAttempt
	Facts    BindFacts
	// Snapshot holds the sockets on the port in every state; nil when not
	// collected, and then SnapshotErr may say why.
	Snapshot    *model.Snapshot
	SnapshotErr string
}

// ExplainCheck turns trial binds and facts into a verdict with reasons,
// notes and fixes. It is pure: every fact about the host comes in through
// in.
func ExplainCheck(in CheckInput) *CheckReport {
	r := &CheckReport{Proto: in.Proto, Port: in.Port, Facts: in.Facts, Snapshot: in.Snapshot, SnapshotErr: in.SnapshotErr}
	e := checkExplainer{in: in, r: r}
	counted, ok := 0, true
	for i := range in.Attempts {
		res := e.addr(&in.Attempts[i])
		r.Addrs = append(r.Addrs, res)
		if res.Reason == ReasonNoFamily {
			continue
		}
		counted++
		ok = ok && res.Bindable
	}
	r.Bindable = ok && counted > 0
	e.portNotes()
	return r
}

// checkExplainer collects what ExplainCheck says, once each.
type checkExplainer struct {
	in CheckInput
	r  *CheckReport
}

func (e *checkExplainer) note(s string) {
	e.r.Notes = appendNew(e.r.Notes, s)
}

func (e *checkExplainer) warn(s string) {
	e.r.Warnings = appendNew(e.r.Warnings, s)
}

func (e *checkExplainer) fix(f CheckFix) {
	e.r.Fixes = appendNew(e.r.Fixes, f)
}

// conflict records that s blocks address a.
func (e *checkExplainer) conflict(s *model.Socket, a netip.Addr, why string) {
	for i := range e.r.Conflicts {
		c := &e.r.Conflicts[i]
		if c.Socket == s {
			c.Blocks = appendNew(c.Blocks, a)
			return
		}
	}
	e.r.Conflicts = append(e.r.Conflicts, BindConflict{Socket: s, Blocks: []netip.Addr{a}, Why: why})
	// Holders first, then leftovers, each in the snapshot's order.
	slices.SortStableFunc(e.r.Conflicts, func(x, y BindConflict) int {
		switch hx, hy := holdsPort(x.Socket), holdsPort(y.Socket); {
		case hx && !hy:
			return -1
		case hy && !hx:
			return 1
		}
		return 0
	})
}

func (e *checkExplainer) addr(at *BindAttempt) AddrResult {
	t := &at.Server
	res := AddrResult{Addr: at.Addr, V6Only: t.V6Only, Bindable: t.OK(), Error: t.failure()}
	if t.OK() {
		res.Text = "bindable: " + e.trialWords(t) + " worked"
		if at.Plain != nil && !at.Plain.OK() {
			e.plainFailed(at)
		}
		return res
	}
	switch t.Err {
	case BindInUse:
		res.Reason = ReasonInUse
		res.Text = e.inUse(at)
	case BindDenied:
		res.Reason, res.Text = e.denied(at)
	case BindNotLocal:
		res.Reason = ReasonNotLocal
		res.Text = e.notLocal(at)
	case BindNoFamily:
		res.Reason = ReasonNoFamily
		res.Text = fmt.Sprintf("IPv%d is not available on this host (%s): only the other family was checked", familyOf(at.Addr), t.Code)
	default:
		res.Reason = ReasonFailed
		res.Text = "the trial bind failed (" + t.failure() + ")"
	}
	return res
}

// trialWords names what a trial did: "bind and listen with SO_REUSEADDR".
func (e *checkExplainer) trialWords(t *BindTrial) string {
	w := "bind"
	if t.Listen {
		w += " and listen"
	}
	var opts []string
	switch {
	case e.in.Facts.OS == "windows":
		opts = append(opts, "SO_EXCLUSIVEADDRUSE")
	case t.ReuseAddr:
		opts = append(opts, "SO_REUSEADDR")
	}
	if t.ReusePort {
		opts = append(opts, "SO_REUSEPORT")
	}
	if t.V6Only == model.Yes && t.Addr.Addr().Is6() {
		opts = append(opts, "IPV6_V6ONLY")
	}
	if len(opts) > 0 {
		w += " with " + strings.Join(opts, " and ")
	}
	return w
}

// blockers returns the sockets on the port that a bind of a (with v6only)
// conflicts with, in the snapshot's order.
func (e *checkExplainer) blockers(a netip.Addr, v6only model.Tristate) []*model.Socket {
	snap := e.in.Snapshot
	if snap == nil {
		return nil
	}
	var out []*model.Socket
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if s.Proto != e.in.Proto || s.Local.Port() != e.in.Port {
			continue
		}
		if Overlaps(a, v6only, s.Local.Addr(), s.V6Only) {
			out = append(out, s)
		}
	}
	return out
}

// Overlaps reports whether a bind of address a (with IPV6_V6ONLY v6a)
// conflicts with a socket bound to b (with v6b) on the same port and
// protocol: equal addresses, a wildcard of the same family, or a
// dual-stack [::] against any IPv4 address. Unknown IPV6_V6ONLY counts as
// off, Linux's default.
func Overlaps(a netip.Addr, v6a model.Tristate, b netip.Addr, v6b model.Tristate) bool {
	a4, b4 := a.Unmap().Is4(), b.Unmap().Is4()
	a, b = a.Unmap(), b.Unmap()
	switch {
	case a4 == b4:
		return a.IsUnspecified() || b.IsUnspecified() || a == b
	case a4:
		return b.IsUnspecified() && v6b != model.Yes
	default:
		return a.IsUnspecified() && v6a != model.Yes
	}
}

// holdsPort reports whether a process or the kernel holds s open on the
// port: a listener or a bound socket (a TCP socket that neither listens
// nor connects is listed as UNCONN, or BOUND from Linux 6.5), not a
// TIME-WAIT leftover or a connection.
func holdsPort(s *model.Socket) bool {
	return s.IsListener() || s.State == model.BoundInactive || s.State == model.Close
}

// why says how s stands in the way of binding a.
func (e *checkExplainer) why(s *model.Socket, a netip.Addr, v6only model.Tristate) string {
	where := sockAddrText(s.Local)
	var w string
	switch {
	case s.Proto == model.TCP && s.State == model.Listen:
		w = "listens on " + where
	case holdsPort(s):
		w = "is bound to " + where
	case s.State == model.TimeWait:
		w = "is a TIME-WAIT leftover of a closed connection on " + where
	default:
		w = fmt.Sprintf("is a connection (%s) from %s", s.State, where)
		if s.Remote.IsValid() {
			w += " to " + sockAddrText(s.Remote)
		}
	}
	b := s.Local.Addr()
	switch {
	case a.Unmap().Is4() && !b.Unmap().Is4():
		w += ", a dual-stack socket (IPV6_V6ONLY off) that holds the IPv4 port too"
	case !a.Unmap().Is4() && b.Unmap().Is4():
		w += "; a dual-stack [::] (IPV6_V6ONLY off) would take the IPv4 port too"
	case a.IsUnspecified() && !b.IsUnspecified():
		w += fmt.Sprintf(", which the wildcard %s covers", a)
	case !a.IsUnspecified() && b.IsUnspecified():
		w += fmt.Sprintf(", which covers %s", a)
	}
	return w
}

func (e *checkExplainer) inUse(at *BindAttempt) string {
	t := &at.Server
	blockers := e.blockers(at.Addr, t.V6Only)
	var holders, leftovers []*model.Socket
	for _, s := range blockers {
		e.conflict(s, at.Addr, e.why(s, at.Addr, t.V6Only))
		if holdsPort(s) {
			holders = append(holders, s)
		} else {
			leftovers = append(leftovers, s)
		}
	}
	text := "in use"
	switch {
	case len(holders) > 0:
		text += ": " + holderWords(holders[0]) + " " + e.why(holders[0], at.Addr, t.V6Only)
		if len(holders) > 1 {
			text += fmt.Sprintf(" (and %s)", countWords(len(holders)-1, "more socket", "more sockets"))
		}
	case len(leftovers) > 0:
		text += ": " + leftoverSummary(leftovers)
	case e.in.Snapshot == nil && e.in.SnapshotErr != "":
		text += ", and the sockets on the port could not be listed: " + e.in.SnapshotErr
	case e.in.Snapshot == nil:
		text += " (the sockets on the port were not listed)"
	default:
		text += ", yet no socket on the port could be seen here: it may have closed since, or live where this process cannot look"
	}
	text += " (" + t.failure() + ")"

	e.reuseNotes(at, holders, leftovers)
	if len(holders) > 0 && at.Addr.IsUnspecified() && !slices.ContainsFunc(holders, func(s *model.Socket) bool {
		return s.Local.Addr().IsUnspecified()
	}) {
		var taken []string
		for _, s := range holders {
			if a := s.Local.Addr().Unmap().String(); !slices.Contains(taken, a) {
				taken = append(taken, a)
			}
		}
		e.note(fmt.Sprintf("only %s is taken: a server can still bind another address of this host on port %d (check one with --addr ADDRESS)",
			strings.Join(taken, ", "), e.in.Port))
	}
	if len(holders) > 0 {
		e.fix(CheckFix{Text: "free the port: stop what holds it (the story of each holder below says how), or let whobinds plan it",
			Command: fmt.Sprintf("whobinds free %s/%d", e.in.Proto, e.in.Port)})
	}
	if len(holders) == 0 && len(leftovers) > 0 && slices.ContainsFunc(leftovers, func(s *model.Socket) bool { return s.State == model.TimeWait }) {
		e.fix(CheckFix{Text: "wait for the TIME-WAIT leftovers to expire (60 s on Linux) and try again"})
	}
	e.fix(CheckFix{Text: "use another port"})
	return text
}

// reuseNotes say what SO_REUSEADDR, SO_REUSEPORT and IPV6_V6ONLY would
// and would not change for a bind that failed in use.
func (e *checkExplainer) reuseNotes(at *BindAttempt, holders, leftovers []*model.Socket) {
	if at.V6Only != nil {
		if at.V6Only.OK() {
			e.note(fmt.Sprintf("[::]:%d binds with IPV6_V6ONLY set: only the IPv4 side of the dual-stack bind is taken. "+
				"A server that sets it (Go: listen on \"tcp6\"; nginx: listen [::]:%d ipv6only=on) can bind [::] next to the IPv4 holder", e.in.Port, e.in.Port))
		} else {
			e.note(fmt.Sprintf("[::]:%d is taken even with IPV6_V6ONLY set: an IPv6 socket holds it too", e.in.Port))
		}
	}
	for _, s := range holders {
		if !s.Local.Addr().Unmap().Is4() && s.Local.Addr().IsUnspecified() && s.V6Only != model.Yes && at.Addr.Unmap().Is4() {
			e.note(fmt.Sprintf("the dual-stack socket [::]:%d takes IPv4 too because IPV6_V6ONLY is off: if its program set it (nginx: ipv6only=on; "+
				"or net.ipv6.bindv6only=1 for programs that do not choose), an IPv4 server could bind %s:%d next to it", e.in.Port, at.Addr, e.in.Port))
			break
		}
	}
	switch e.in.Facts.OS {
	case "windows":
		e.note("SO_REUSEADDR is no way out on Windows: it lets a socket bind over one that did not set SO_EXCLUSIVEADDRUSE and take its traffic")
		return
	case "linux":
	default:
		return
	}
	if e.in.Proto == model.UDP {
		e.note("SO_REUSEADDR lets a second UDP socket bind the port only if the holder set it too, and unicast datagrams then reach one of them only; " +
			"SO_REUSEPORT (both sockets, same user) spreads datagrams between them. " +
			"Neither was tried: a trial socket in such a group would receive datagrams meant for the holder")
		return
	}
	listener := slices.ContainsFunc(holders, func(s *model.Socket) bool { return s.State == model.Listen })
	switch {
	case listener:
		e.note("SO_REUSEADDR does not help: Linux refuses a second bind wherever a listener covers the address, whatever the options")
	case len(holders) > 0:
		e.note("SO_REUSEADDR helps only if the socket bound in the way set it too and never listens; the trial set it and still failed")
	case len(leftovers) > 0:
		e.note("SO_REUSEADDR does not help here: the sockets in the way did not set it (a TIME-WAIT leftover keeps the option of the socket it came from), " +
			"and Linux lets a bind share the port with them only when both sides set it")
	}
	if rp := at.ReusePort; rp != nil {
		if rp.OK() {
			e.note("SO_REUSEPORT would let a second server bind next to the holder (both set it, same user): the kernel would then split new connections " +
				"between them. That hands a port over without downtime; it does not take it over")
		} else {
			e.note("SO_REUSEPORT would not help either: the sockets in the way did not set it, or belong to another user")
		}
	}
}

// plainFailed explains a port that binds with SO_REUSEADDR but not
// without it.
func (e *checkExplainer) plainFailed(at *BindAttempt) {
	var tw, conns, bound int
	for _, s := range e.blockers(at.Addr, at.Server.V6Only) {
		switch {
		case s.State == model.TimeWait:
			tw++
		case holdsPort(s):
			bound++
		default:
			conns++
		}
		e.conflict(s, at.Addr, e.why(s, at.Addr, at.Server.V6Only))
	}
	var what []string
	if tw > 0 {
		what = append(what, countWords(tw, "TIME-WAIT leftover", "TIME-WAIT leftovers"))
	}
	if conns > 0 {
		what = append(what, countWords(conns, "connection", "connections"))
	}
	if bound > 0 {
		what = append(what, countWords(bound, "socket bound with SO_REUSEADDR", "sockets bound with SO_REUSEADDR"))
	}
	if len(what) == 0 {
		what = append(what, "sockets that set SO_REUSEADDR")
	}
	e.note(fmt.Sprintf("%s:%d binds only with SO_REUSEADDR (without it: %s) because of %s on the port. "+
		"Go, nginx and most servers set SO_REUSEADDR; a server that does not must wait until they are gone (TIME-WAIT lasts 60 s)",
		bracketAddr(at.Addr), e.in.Port, at.Plain.Code, strings.Join(what, " and ")))
}

func (e *checkExplainer) denied(at *BindAttempt) (BindReason, string) {
	t := &at.Server
	f := &e.in.Facts
	port := int(e.in.Port)
	switch f.OS {
	case "linux":
		start := f.UnprivilegedPortStart
		if start > 0 && port < start && f.CapNetBindService != model.Yes {
			e.privilegedFixes()
			who := "this process"
			if f.EUID >= 0 {
				who += " (" + userWords(f) + ")"
			}
			return ReasonPrivileged, fmt.Sprintf("port %d is privileged: ports below net.ipv4.ip_unprivileged_port_start (%d) need CAP_NET_BIND_SERVICE, "+
				"which %s lacks (%s)", port, start, who, t.failure())
		}
		e.fix(CheckFix{Text: "look for the denial: SELinux (sudo ausearch -m avc -ts recent), AppArmor (sudo journalctl -k | grep -i apparmor), " +
			"or a cgroup BPF bind program (sudo bpftool cgroup tree)"})
		why := "port " + strconv.Itoa(port) + " is not privileged here"
		switch {
		case start < 0:
			why = "whether port " + strconv.Itoa(port) + " is privileged is unknown (net.ipv4.ip_unprivileged_port_start could not be read)"
		case f.CapNetBindService == model.Yes && port < start:
			why = "this process has CAP_NET_BIND_SERVICE"
		}
		return ReasonDenied, fmt.Sprintf("the kernel refused the bind although %s: a security module (SELinux, AppArmor) "+
			"or a cgroup BPF program denies it (%s)", why, t.failure())
	case "windows":
		fam := familyOf(at.Addr)
		var in []portrange.Range
		for _, r := range f.Excluded {
			if r.Family == fam && r.Proto == e.in.Proto && r.Contains(port) {
				in = append(in, r)
			}
		}
		// A run-time range denies the bind; an administered one does not.
		slices.SortStableFunc(in, func(a, b portrange.Range) int {
			switch {
			case !a.Administered && b.Administered:
				return -1
			case a.Administered && !b.Administered:
				return 1
			}
			return 0
		})
		if len(in) > 0 {
			r := in[0]
			for _, fx := range portrange.Fixes(r, port) {
				e.fix(CheckFix{Text: fx})
			}
			return ReasonExcluded, fmt.Sprintf("port %d lies in the excluded port range %d-%d (%s/ipv%d), %s (%s)",
				port, r.First, r.Last, r.Proto, r.Family, portrange.LikelyOwner(r), t.failure())
		}
		if blockers := e.blockers(at.Addr, t.V6Only); len(blockers) > 0 {
			for _, s := range blockers {
				e.conflict(s, at.Addr, e.why(s, at.Addr, t.V6Only))
			}
			e.fix(CheckFix{Text: "free the port: stop what holds it (the story of each holder below says how), or let whobinds plan it",
				Command: fmt.Sprintf("whobinds free %s/%d", e.in.Proto, e.in.Port)})
			e.fix(CheckFix{Text: "use another port"})
			return ReasonInUse, fmt.Sprintf("in use: %s %s, and Windows denies a second bind next to it (%s)",
				holderWords(blockers[0]), e.why(blockers[0], at.Addr, t.V6Only), t.failure())
		}
		text := fmt.Sprintf("Windows denied the bind (%s) and no excluded port range lists port %d: a run-time reservation that netsh does not show, "+
			"a socket that holds the port exclusively where whobinds cannot see it, or a security product", t.failure(), port)
		if f.ExcludedUnknown != "" {
			text = fmt.Sprintf("Windows denied the bind (%s); the excluded port ranges are unknown (%s), and a port in one fails exactly so",
				t.failure(), f.ExcludedUnknown)
		}
		e.fix(CheckFix{Text: "list the excluded port ranges (elevated Command Prompt not needed)",
			Command: fmt.Sprintf("netsh int ipv%d show excludedportrange protocol=%s", fam, e.in.Proto)})
		e.fix(CheckFix{Text: "use another port"})
		return ReasonDenied, text
	}
	return ReasonDenied, "the system denied the bind (" + t.failure() + ")"
}

// privilegedFixes are the ways to serve a privileged port, most contained
// first.
func (e *checkExplainer) privilegedFixes() {
	port := int(e.in.Port)
	start := e.in.Facts.UnprivilegedPortStart
	e.fix(CheckFix{Text: "give the server's executable the capability (not a script: its interpreter would need it; lost when the file is replaced; " +
		"ignored on a nosuid mount)",
		Command: "sudo setcap cap_net_bind_service=+ep /path/to/server"})
	e.fix(CheckFix{Text: fmt.Sprintf("let systemd open the port: a .socket unit with ListenStream=%d passes the listening socket to the service "+
		"(or grant the service alone AmbientCapabilities=CAP_NET_BIND_SERVICE); the command tries that without a unit", port),
		Command: fmt.Sprintf("systemd-socket-activate -l %d /path/to/server", port)})
	e.fix(CheckFix{Text: fmt.Sprintf("keep the server on a high port behind a reverse proxy that listens on %d (nginx, Caddy, HAProxy)", port)})
	alt := port + 8000
	if alt < start {
		alt = start
	}
	if alt <= 65535 {
		e.fix(CheckFix{Text: fmt.Sprintf("use a port at or above %d, such as %d", start, alt)})
	}
	e.fix(CheckFix{Text: fmt.Sprintf("lower the limit for this network namespace: every user may then bind from port %d up (persist it in /etc/sysctl.d/)", port),
		Command: fmt.Sprintf("sudo sysctl -w net.ipv4.ip_unprivileged_port_start=%d", port)})
}

func (e *checkExplainer) notLocal(at *BindAttempt) string {
	a := at.Addr
	text := fmt.Sprintf("%s is not an address of this host (%s)", a, at.Server.failure())
	if e.in.Facts.OS == "windows" {
		e.fix(CheckFix{Text: "bind every address (0.0.0.0 or ::), or one that ipconfig lists"})
		return text
	}
	e.fix(CheckFix{Text: "bind every address (0.0.0.0 or ::), or one this host has", Command: "ip -brief address"})
	if a.Is6() && !a.Is4In6() {
		e.note("a new IPv6 address cannot be bound for a second or two while duplicate address detection runs (it is \"tentative\"): if it was just added, try again")
	}
	sysctl := "net.ipv4.ip_nonlocal_bind"
	if a.Is6() && !a.Is4In6() {
		sysctl = "net.ipv6.ip_nonlocal_bind"
	}
	e.fix(CheckFix{Text: "to bind an address before it exists (a floating address moved by keepalived or pacemaker), allow it for this network namespace, " +
		"or have the server set IP_FREEBIND",
		Command: "sudo sysctl -w " + sysctl + "=1"})
	return text
}

// portNotes add what the host's port ranges say about the port, whether
// or not it binds.
func (e *checkExplainer) portNotes() {
	f := &e.in.Facts
	port := int(e.in.Port)
	switch f.OS {
	case "linux":
		start := f.UnprivilegedPortStart
		if e.r.Bindable && start > 0 && port < start {
			who := "this process is root"
			if f.EUID != 0 {
				who = "this process has CAP_NET_BIND_SERVICE"
			}
			e.note(fmt.Sprintf("port %d is privileged (below net.ipv4.ip_unprivileged_port_start = %d): it binds because %s; "+
				"another user gets EACCES", port, start, who))
		}
		reserved := slices.ContainsFunc(f.ReservedPorts, func(s PortSpan) bool { return s.Contains(port) })
		switch {
		case reserved:
			e.note(fmt.Sprintf("port %d is in net.ipv4.ip_local_reserved_ports: the kernel never hands it out as an ephemeral port, "+
				"and an explicit bind works", port))
		case f.LocalPortRange.Contains(port):
			list := strconv.Itoa(port)
			if t := strings.TrimSpace(f.ReservedPortsText); t != "" {
				list = t + "," + list
			}
			e.warn(fmt.Sprintf("port %d lies in the ephemeral port range %s (net.ipv4.ip_local_port_range): an outgoing connection may take it "+
				"at any moment, and then a bind fails with EADDRINUSE. Reserve it (persist it in /etc/sysctl.d/): sudo sysctl -w "+
				"net.ipv4.ip_local_reserved_ports=%s, or use a port outside the range", port, f.LocalPortRange, list))
		}
	case "windows":
		for _, r := range f.Excluded {
			if r.Proto == e.in.Proto && r.Administered && r.Contains(port) {
				e.note(fmt.Sprintf("port %d lies in the administered port exclusion %d-%d (ipv%d): Windows never hands it out as an "+
					"ephemeral port; an explicit bind still works", port, r.First, r.Last, r.Family))
			}
		}
		var spans []string
		for _, r := range f.Dynamic {
			if r.Proto == e.in.Proto && r.Contains(port) {
				if s := fmt.Sprintf("%d-%d", r.First, r.Last); !slices.Contains(spans, s) {
					spans = append(spans, s)
				}
			}
		}
		if len(spans) > 0 {
			e.warn(fmt.Sprintf("port %d lies in the dynamic port range %s: an outgoing connection may take it at any moment, "+
				"and Hyper-V/WinNAT carve excluded ranges from it. Servers are safer outside it "+
				"(see it with: netsh int ipv4 show dynamicport %s)", port, strings.Join(spans, ", "), e.in.Proto))
		}
		if e.in.Proto == model.TCP {
			for _, u := range f.URLACLs {
				if p, ok := httpsys.URLPort(u.Prefix); ok && p == port {
					e.note(fmt.Sprintf("http.sys has a URL reservation for %s (%s): a reservation alone holds no port, but the program it "+
						"names may register the URL, and then System (PID 4) listens on port %d; if it is stale, remove it "+
						"(elevated Command Prompt): netsh http delete urlacl url=%s", u.Prefix, u.SDDL, port, u.Prefix))
				}
			}
		}
	}
	if s := e.in.Snapshot; s != nil && s.Hidden.Sockets > 0 && len(e.r.Conflicts) > 0 {
		e.note("some owners on the port are hidden (" + s.Hidden.Reason + ")")
	}
}

// holderWords names who holds s, for people: "python3 (pid 812)",
// "a socket whose owner is hidden (needs root)", "the kernel (vxlan0)".
func holderWords(s *model.Socket) string {
	if len(s.Holders) > 0 {
		h := s.Holders[0]
		w := fmt.Sprintf("pid %d", h.PID)
		if h.Process != nil && h.Process.Name != "" {
			w = fmt.Sprintf("%s (pid %d)", h.Process.Name, h.PID)
		}
		if n := len(s.Holders) - 1; n > 0 {
			w += " and " + countWords(n, "more process", "more processes")
		}
		return w
	}
	if s.Hidden != "" {
		return "a socket whose owner is hidden (" + s.Hidden + ")"
	}
	for _, a := range s.Attributions {
		if a.Kind == model.AttrKernel {
			return "the kernel (" + a.Name + ")"
		}
	}
	return "a socket with no visible owner"
}

func leftoverSummary(ss []*model.Socket) string {
	var tw, other int
	for _, s := range ss {
		if s.State == model.TimeWait {
			tw++
		} else {
			other++
		}
	}
	var parts []string
	if tw > 0 {
		parts = append(parts, countWords(tw, "TIME-WAIT leftover of a closed connection", "TIME-WAIT leftovers of closed connections"))
	}
	if other > 0 {
		parts = append(parts, countWords(other, "connection", "connections")+" from this port")
	}
	return "held by " + strings.Join(parts, " and ") + ", without SO_REUSEADDR"
}

func sockAddrText(ap netip.AddrPort) string {
	return bracketAddr(ap.Addr()) + ":" + strconv.Itoa(int(ap.Port()))
}

// bracketAddr writes an IPv6 address in brackets, as in a host:port.
func bracketAddr(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return "[" + a.String() + "]"
	}
	return a.Unmap().String()
}

func familyOf(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 6
}

func userWords(f *BindFacts) string {
	if f.User != "" {
		return fmt.Sprintf("uid %d, %s", f.EUID, f.User)
	}
	return fmt.Sprintf("uid %d", f.EUID)
}

func countWords(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// ParsePortRange parses net.ipv4.ip_local_port_range: two port numbers
// separated by white space ("32768\t60999\n").
func ParsePortRange(b []byte) (PortSpan, error) {
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return PortSpan{}, fmt.Errorf("port range %q: want two numbers", clipFact(b))
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return PortSpan{}, fmt.Errorf("port range %q: want two ports, the first no greater than the second", clipFact(b))
	}
	return PortSpan{lo, hi}, nil
}

// ParseReservedPorts parses net.ipv4.ip_local_reserved_ports: a
// comma-separated list of ports and ranges ("8080,9000-9010"); empty for
// none.
func ParseReservedPorts(b []byte) ([]PortSpan, error) {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, nil
	}
	var out []PortSpan
	for _, item := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(item), "-")
		first, err := strconv.Atoi(lo)
		last := first
		if err == nil && isRange {
			last, err = strconv.Atoi(hi)
		}
		if err != nil || first < 0 || last > 65535 || first > last {
			return nil, fmt.Errorf("reserved ports %q: %q is not a port or a range", clipFact(b), item)
		}
		out = append(out, PortSpan{first, last})
	}
	return out, nil
}

// ParseCapEff returns the effective capability set from the text of
// /proc/PID/status (the "CapEff:" line, 64 bits in hex).
func ParseCapEff(status []byte) (uint64, error) {
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("CapEff %q: %w", strings.TrimSpace(v), err)
			}
			return n, nil
		}
	}
	return 0, errors.New("no CapEff line")
}

// capNetBindService is CAP_NET_BIND_SERVICE's bit number
// (include/uapi/linux/capability.h).
const capNetBindService = 10

// readLinuxFacts reads the Linux facts under the procfs mount proc (the
// sysctls of the reader's network namespace, and proc/self/status).
// What cannot be read is listed in Unknown.
func readLinuxFacts(proc string, readFile func(string) ([]byte, error)) BindFacts {
	f := BindFacts{OS: "linux", UnprivilegedPortStart: -1}
	read := func(rel string) ([]byte, bool) {
		b, err := readFile(proc + "/" + rel)
		if err != nil {
			f.Unknown = append(f.Unknown, fmt.Sprintf("reading %s/%s: %v", proc, rel, err))
			return nil, false
		}
		return b, true
	}
	if b, ok := read("sys/net/ipv4/ip_unprivileged_port_start"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 {
			f.UnprivilegedPortStart = n
		} else {
			f.Unknown = append(f.Unknown, fmt.Sprintf("ip_unprivileged_port_start %q is not a number", clipFact(b)))
		}
	}
	if b, ok := read("sys/net/ipv4/ip_local_port_range"); ok {
		if r, err := ParsePortRange(b); err == nil {
			f.LocalPortRange = r
		} else {
			f.Unknown = append(f.Unknown, err.Error())
		}
	}
	if b, ok := read("sys/net/ipv4/ip_local_reserved_ports"); ok {
		if r, err := ParseReservedPorts(b); err == nil {
			f.ReservedPorts, f.ReservedPortsText = r, strings.TrimSpace(string(b))
		} else {
			f.Unknown = append(f.Unknown, err.Error())
		}
	}
	if b, ok := read("self/status"); ok {
		if c, err := ParseCapEff(b); err == nil {
			f.CapNetBindService = model.Bool(c&(1<<capNetBindService) != 0)
		} else {
			f.Unknown = append(f.Unknown, "capabilities: "+err.Error())
		}
	}
	return f
}

func clipFact(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}

// zoneIndex is the interface index an IPv6 zone names: an interface name
// or a number; 0 for none or an unknown name.
func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifc, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifc.Index)
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	return 0
}
