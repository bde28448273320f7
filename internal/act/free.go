package act

// This file holds free: the plan (pure: a snapshot in, ordered steps,
// supervisors and refusals out), the Freer that collects, carries a plan
// out through the OS seam and waits for the port, and the parser of
// `systemctl show`. The OS seam is the system interface below;
// free_linux.go and free_windows.go fill it; elsewhere it stays nil and
// the Freer fails with engine.ErrNotSupported.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/explain"
	"github.com/whobinds/whobinds/internal/kb"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
)

// StepKind says what a Step does.
type StepKind string

// The step kinds, in the order a plan runs them.
const (
	// StopUnit stops a systemd unit (a .socket or a .service) and
	// disables it when it is enabled.
	StopUnit StepKind = "stop-unit"
	// StopService stops a Windows service through the service control
	// manager and sets it to start on demand when it started
	// automatically.
	StopService StepKind = "stop-service"
	// StopContainer stops a docker or podman container.
	StopContainer StepKind = "stop-container"
	// Terminate ends one process, verified to be the one in the snapshot.
	// Linux: SIGTERM, a wait, SIGKILL only with --force. Windows: there is
	// no graceful form, so TerminateProcess, and only with --force.
	Terminate StepKind = "terminate"
)

// Step is one action of a plan.
type Step struct {
	Kind StepKind `json:"kind"`
	// Name is the unit, service or container, or for Terminate the
	// process's name.
	Name string `json:"name"`
	// Manager runs Name: "system" or "user@UID" for units, "docker" or
	// "podman" for containers, "scm" for Windows services.
	Manager string `json:"manager,omitempty"`
	// User is the user whose manager runs a user unit, for
	// `systemctl --user -M USER@`.
	User string `json:"user,omitempty"`

	// PID identifies the process of a Terminate step together with its
	// start: StartTicks (Linux, clock ticks since boot as in
	// /proc/PID/stat) or Start (Windows, the creation time). A process
	// whose start differs is another process that reused the PID.
	PID        int       `json:"pid,omitempty"`
	StartTicks uint64    `json:"start_ticks,omitempty"`
	Start      time.Time `json:"start,omitzero"`
	// PPID and Parent are the process's parent, which may respawn it.
	PPID   int    `json:"ppid,omitempty"`
	Parent string `json:"parent,omitempty"`
	// Unit is the systemd unit the process runs in, if any.
	Unit string `json:"unit,omitempty"`
	// IfRunning is true for a process in a unit or container that an
	// earlier step stops: it is only signalled if it survived that.
	IfRunning bool `json:"if_running,omitempty"`
	// Disable is true for a unit to disable after stopping it, so that
	// it does not start again at boot.
	Disable bool `json:"disable,omitempty"`

	// Text says what the step does and why; Command is the same by hand.
	Text    string `json:"text"`
	Command string `json:"command,omitempty"`
}

// Supervisor is something that would bring the port's owner back.
type Supervisor struct {
	// Kind is "systemd" (a unit's Restart=), "socket-unit" (systemd
	// starts the service again on the next connection), "container" (a
	// restart policy), or "parent" (the process that started the holder,
	// which may respawn it).
	Kind string `json:"kind"`
	Name string `json:"name"`
	PID  int    `json:"pid,omitempty"`
	Text string `json:"text"`
}

// Refusal is something free will not do, with what to do instead.
type Refusal struct {
	// PID is the process that will not be ended; 0 when no process holds
	// the socket (the kernel, or a holder hidden from whobinds).
	PID  int    `json:"pid,omitempty"`
	Name string `json:"name,omitempty"`
	// Reason says why; Instead and Command are the right alternative.
	Reason  string `json:"reason"`
	Instead string `json:"instead"`
	Command string `json:"command,omitempty"`
}

// HeldSocket is one listening or bound socket on the port.
type HeldSocket struct {
	Proto   string       `json:"proto"`
	Local   string       `json:"local"`
	State   string       `json:"state"`
	Inode   uint64       `json:"inode,omitempty"`
	Holders []ProcessRef `json:"holders"`
	// Hidden says why holders are missing, as the snapshot says it.
	Hidden string `json:"hidden,omitempty"`
}

// ProcessRef names a process for people.
type ProcessRef struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
	User string `json:"user,omitempty"`
}

func (p ProcessRef) String() string { return fmt.Sprintf("%s (pid %d)", p.Name, p.PID) }

// Plan is what free does for one port, in order. It refuses as a whole:
// when Refusals is not empty, none of the Steps is carried out, because
// the rest alone would not free the port.
type Plan struct {
	Target target.Target `json:"-"`
	// Port is Target as the user can type it ("tcp/8080").
	Port string `json:"target"`
	// OS is the snapshot's operating system.
	OS string `json:"-"`
	// Sockets hold the port now; none means it is free already.
	Sockets     []HeldSocket `json:"sockets"`
	Steps       []Step       `json:"steps"`
	Supervisors []Supervisor `json:"supervisors"`
	Refusals    []Refusal    `json:"refusals"`
	// Notes are facts worth telling that change nothing in the plan.
	Notes []string `json:"notes,omitempty"`
}

// Free reports whether nothing holds the port.
func (p *Plan) Free() bool { return len(p.Sockets) == 0 }

// Refused reports whether free will not act on the port.
func (p *Plan) Refused() bool { return len(p.Refusals) > 0 }

// PlanOptions change what a plan may do.
type PlanOptions struct {
	// Force allows SIGKILL (Linux) and TerminateProcess (Windows).
	Force bool
}

// FreeFacts are what the operating system said about the snapshot's units,
// containers and whobinds itself, gathered before planning.
type FreeFacts struct {
	// Units are the systemd units of the holders, by UnitKey.
	Units map[string]SystemdUnit
	// Containers are the holders' containers, by ContainerKey.
	Containers map[string]ContainerInfo
	// PIDNS is the inode of whobinds' own PID namespace; 0 when unknown.
	PIDNS uint64
	// Self is whobinds' own PID.
	Self int
	// Warnings say what could not be learned.
	Warnings []string
}

// SystemdUnit is what systemd says about a unit (`systemctl show`).
type SystemdUnit struct {
	Name    string // Id=
	Manager string // "system" or "user@UID"
	// LoadState is "loaded", "not-found", "masked"...
	LoadState string
	// ActiveState is "active", "inactive", "failed"...
	ActiveState string
	// UnitFileState is "enabled", "static", "disabled"...
	UnitFileState string
	// MainPID is the service's main process; 0 for none.
	MainPID int
	// Restart is the service's Restart= setting ("no", "always",
	// "on-failure", ...); empty for socket units.
	Restart string
}

// UnitKey is the key of a unit in FreeFacts.Units.
func UnitKey(manager, name string) string { return manager + " " + name }

// ContainerInfo is what a container engine's metadata says about a container.
type ContainerInfo struct {
	Engine string
	Name   string
	// RestartPolicy is docker's restart policy ("no", "always",
	// "unless-stopped", "on-failure"); empty when unknown.
	RestartPolicy string
}

// ContainerKey is the key of a container in FreeFacts.Containers.
func ContainerKey(engine, name string) string { return engine + " " + name }

// PlanFree plans freeing the port of t from a snapshot: it stops what
// supervises the holders (socket units, service units, Windows services,
// containers) before it ends processes, names what would bring the owner
// back, and refuses what must not be done. Only sockets that listen or
// are bound (TCP LISTEN, unconnected UDP) on exactly t's port count; the
// clients of established connections are never touched. It is pure.
func PlanFree(snap *model.Snapshot, t target.Target, facts FreeFacts, opt PlanOptions) Plan {
	p := Plan{Target: t, Port: t.String(), OS: snap.Host.OS, Steps: []Step{}, Supervisors: []Supervisor{}, Refusals: []Refusal{}}
	pl := freePlanner{p: &p, snap: snap, host: &snap.Host, facts: facts, opt: opt, covered: map[int]string{}, explained: map[int]bool{}}
	var socks []*model.Socket
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if s.IsListener() && t.Single() && t.Match(s) {
			socks = append(socks, s)
		}
	}
	for _, s := range socks {
		p.Sockets = append(p.Sockets, freeHeldSocket(s))
	}
	// What supervises the holders comes first: stopping it frees the port
	// for good, ending its processes would be undone.
	for _, s := range socks {
		pl.supervisors(s)
	}
	for _, s := range socks {
		pl.holders(s)
	}
	slices.SortStableFunc(p.Steps, func(a, b Step) int {
		return cmp.Or(cmp.Compare(freeStepRank(a), freeStepRank(b)), cmp.Compare(a.PID, b.PID))
	})
	return p
}

func freeStepRank(s Step) int {
	switch {
	case s.Kind == StopUnit && strings.HasSuffix(s.Name, ".socket"):
		return 0
	case s.Kind == StopUnit:
		return 1
	case s.Kind == StopService:
		return 2
	case s.Kind == StopContainer:
		return 3
	}
	return 4
}

func freeHeldSocket(s *model.Socket) HeldSocket {
	h := HeldSocket{Proto: s.Proto.String(), Local: s.Local.String(), State: s.State.String(), Inode: s.Inode, Hidden: s.Hidden, Holders: []ProcessRef{}}
	for _, x := range s.Holders {
		h.Holders = append(h.Holders, freeProcessOf(x))
	}
	return h
}

func freeProcessOf(h model.Holder) ProcessRef {
	p := ProcessRef{PID: h.PID, Name: "?"}
	if h.Process != nil {
		p.Name, p.User = h.Process.Name, h.Process.User
	}
	return p
}

// freePlanner builds one plan.
type freePlanner struct {
	p     *Plan
	snap  *model.Snapshot
	host  *model.Host
	facts FreeFacts
	opt   PlanOptions
	// covered are the holders an earlier step takes care of, with the
	// step's name.
	covered map[int]string
	// explained are the holders a refusal of an attribution already
	// covers (System for an http.sys URL nobody can stop).
	explained map[int]bool
}

func (pl *freePlanner) addStep(s Step) {
	for _, x := range pl.p.Steps {
		if x.Kind == s.Kind && x.Name == s.Name && x.Manager == s.Manager && x.PID == s.PID {
			return
		}
	}
	pl.p.Steps = append(pl.p.Steps, s)
}

func (pl *freePlanner) refuse(r Refusal) {
	pl.p.Refusals = appendNew(pl.p.Refusals, r)
}

func (pl *freePlanner) supervise(s Supervisor) {
	pl.p.Supervisors = appendNew(pl.p.Supervisors, s)
}

func (pl *freePlanner) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	pl.p.Notes = appendNew(pl.p.Notes, n)
}

// supervisors plans the steps that follow from a socket's attributions:
// socket units, Windows services (http.sys registrations included) and
// containers. Service units depend on the holder and are planned in
// holders.
func (pl *freePlanner) supervisors(s *model.Socket) {
	for _, a := range s.Attributions {
		switch a.Kind {
		case model.AttrSocketActivation:
			pl.socketUnit(s, a)
		case model.AttrService:
			if a.Ambiguous || a.Name == "" {
				continue // the holder is refused with the candidates
			}
			pl.addStep(Step{Kind: StopService, Name: a.Name, Manager: "scm",
				Text:    fmt.Sprintf("stop the service %s (in %s) and, if it starts automatically, set it to start on demand; ending the process would not stop the service for good", a.Name, freeHolderName(s, a.PID)),
				Command: freeSCCommand(a.Name)})
			pl.covered[a.PID] = a.Name
		case model.AttrHTTPSys:
			pl.httpSys(s, a)
		case model.AttrContainer, model.AttrForwarder:
			pl.container(s, a)
		}
	}
}

func (pl *freePlanner) socketUnit(s *model.Socket, a model.Attribution) {
	var manager, user string
	switch {
	case a.Manager == "systemd":
		manager = "system"
	case strings.HasPrefix(a.Manager, "systemd user@"):
		manager = strings.TrimPrefix(a.Manager, "systemd ")
		user = freeHolderUser(s, a.PID)
	default:
		// systemd-socket-activate and inetd are processes: ended as
		// holders. A service that received its socket (LISTEN_FDS) is
		// covered through systemd's own attribution.
		return
	}
	if a.Name == "" {
		// Never end a systemd manager: it runs every unit of its user
		// (or of the system, PID 1: refused as such).
		if a.PID != 1 {
			pl.refuse(Refusal{PID: a.PID, Name: "systemd",
				Reason:  fmt.Sprintf("the %s manager, systemd (pid %d), holds the port for a socket unit whobinds could not find; ending it would stop every unit it runs", manager, a.PID),
				Instead: "find the socket unit and stop it, as that user",
				Command: "systemctl --user list-sockets"})
			pl.explained[a.PID] = true
		}
		return
	}
	if manager == "system" && pl.host.EUID > 0 {
		pl.refuse(Refusal{PID: a.PID, Name: a.Name,
			Reason:  fmt.Sprintf("systemd listens on the port for %s; stopping a system unit needs root", a.Name),
			Instead: "run free as root",
			Command: pl.elevated()})
		pl.explained[a.PID] = true
		return
	}
	pl.addStep(pl.unitStep(a.Name, manager, user,
		fmt.Sprintf("systemd listens on the port for %s and starts %s on the next connection", a.Name, a.Service)))
	pl.supervise(Supervisor{Kind: "socket-unit", Name: a.Name, PID: a.PID,
		Text: fmt.Sprintf("systemd (pid %d) listens for %s and would start %s again on the next connection; stopping only the service leaves the port held", a.PID, a.Name, a.Service)})
	pl.covered[a.PID] = a.Name
	if a.Service == "" {
		return
	}
	svc := a.Service
	if strings.HasSuffix(svc, "@.service") {
		// Accept=yes: one instance per connection.
		svc = strings.TrimSuffix(svc, "@.service") + "@*.service"
	}
	pl.addStep(pl.unitStep(svc, manager, user, a.Name+" starts it for the connections to the port"))
}

// unitStep stops and disables a unit.
func (pl *freePlanner) unitStep(name, manager, user, why string) Step {
	st := Step{Kind: StopUnit, Name: name, Manager: manager, User: user}
	u, known := pl.facts.Units[UnitKey(manager, name)]
	disable := !strings.Contains(name, "*") && (!known || strings.HasPrefix(u.UnitFileState, "enabled"))
	st.Disable = disable
	verb := "stop"
	if disable {
		verb = "stop and disable"
	}
	st.Text = fmt.Sprintf("%s %s: %s", verb, name, why)
	if manager != "system" {
		st.Text = fmt.Sprintf("%s the %s unit %s: %s", verb, manager, name, why)
	}
	st.Command = freeSystemctlCommand(manager, user, pl.host.EUID, name, disable)
	return st
}

func freeSystemctlCommand(manager, user string, euid int, name string, disable bool) string {
	cmd := "systemctl "
	switch {
	case manager == "system" && euid != 0:
		cmd = "sudo systemctl "
	case manager != "system" && euid == 0 && user != "":
		cmd = "systemctl --user -M " + user + "@ "
	case manager != "system":
		cmd = "systemctl --user "
	}
	if disable {
		return cmd + "disable --now " + name
	}
	return cmd + "stop " + freeShellWord(name)
}

func freeShellWord(s string) string {
	if strings.ContainsAny(s, "*?[") {
		return "'" + s + "'"
	}
	return s
}

func freeSCCommand(name string) string {
	return "sc stop " + name + " && sc config " + name + " start= demand"
}

// httpSys plans for a URL registered with http.sys: System (PID 4) listens
// because a service or a program asked it to.
func (pl *freePlanner) httpSys(s *model.Socket, a model.Attribution) {
	if a.Ambiguous || a.Service == "" || strings.HasPrefix(a.Service, "PID ") {
		pl.explained[a.PID] = true
	}
	switch {
	case a.Ambiguous || a.Service == "":
		pl.refuse(Refusal{PID: a.PID, Name: "System",
			Reason:  fmt.Sprintf("System (pid 4) listens for http.sys, and who registered %s is unknown (%s)", a.Name, cmp.Or(a.Detail, "no request queue names a process")),
			Instead: "run whobinds as administrator to name the service, or keep http.sys off this address",
			Command: "netsh http add iplisten ipaddress=127.0.0.1"})
	case strings.HasPrefix(a.Service, "PID "):
		pid, _ := strconv.Atoi(strings.TrimPrefix(a.Service, "PID "))
		pl.refuse(Refusal{PID: pid,
			Reason:  fmt.Sprintf("%s was registered with http.sys by a program that is not a service (%s); whobinds cannot verify that process, so it does not end it", a.Name, a.Detail),
			Instead: "close that program, or end it yourself once you checked it is the one",
			Command: "taskkill /PID " + strconv.Itoa(pid)})
	default:
		pl.addStep(Step{Kind: StopService, Name: a.Service, Manager: "scm",
			Text:    fmt.Sprintf("stop the service %s and, if it starts automatically, set it to start on demand: it registered %s with http.sys, which makes System (pid 4) listen", a.Service, a.Name),
			Command: freeSCCommand(a.Service)})
		pl.covered[a.PID] = a.Service
	}
}

// container plans stopping the container that a forwarder serves or a
// holder runs in.
func (pl *freePlanner) container(s *model.Socket, a model.Attribution) {
	engine := a.Manager
	if a.Kind == model.AttrForwarder {
		engine = map[string]string{"docker-proxy": "docker", "pasta": "podman", "slirp4netns": "podman", "rootlessport": "podman"}[a.Manager]
	}
	if a.Name == "" || (engine != "docker" && engine != "podman") {
		return // the holder is refused with what is known
	}
	if engine == "podman" && pl.host.EUID >= 0 && !pl.sameUser(s, a.PID) {
		// Rootless podman keeps each user's containers apart.
		pl.refuse(Refusal{PID: a.PID, Name: a.Name,
			Reason:  fmt.Sprintf("the podman container %s belongs to %s; podman run as another user does not see it", a.Name, freeHolderUserOr(s, a.PID, "another user")),
			Instead: "stop it as that user",
			Command: "podman stop " + a.Name})
		return
	}
	what := "runs in it"
	if a.Kind == model.AttrForwarder {
		what = "forwards the port to it"
	}
	text := fmt.Sprintf("stop the %s container %s: %s %s", engine, a.Name, freeHolderName(s, a.PID), what)
	if a.Image != "" {
		text = fmt.Sprintf("stop the %s container %s (%s): %s %s", engine, a.Name, a.Image, freeHolderName(s, a.PID), what)
	}
	pl.addStep(Step{Kind: StopContainer, Name: a.Name, Manager: engine, Text: text, Command: engine + " stop " + a.Name})
	pl.covered[a.PID] = a.Name
	c := pl.facts.Containers[ContainerKey(engine, a.Name)]
	switch c.RestartPolicy {
	case "always":
		pl.supervise(Supervisor{Kind: "container", Name: a.Name,
			Text: fmt.Sprintf("restart policy always: %s starts the container again when its daemon restarts; `%s update --restart=no %s` keeps it stopped", engine, engine, a.Name)})
	case "unless-stopped", "on-failure":
		pl.supervise(Supervisor{Kind: "container", Name: a.Name,
			Text: fmt.Sprintf("restart policy %s: %s would restart the container if only its process were ended; a stopped container stays stopped", c.RestartPolicy, engine)})
	}
}

func (pl *freePlanner) sameUser(s *model.Socket, pid int) bool {
	for _, h := range s.Holders {
		if h.PID == pid && h.Process != nil {
			return int(h.Process.UID) == pl.host.EUID
		}
	}
	return false
}

func freeHolderName(s *model.Socket, pid int) string {
	for _, h := range s.Holders {
		if h.PID == pid {
			return freeProcessOf(h).String()
		}
	}
	return fmt.Sprintf("pid %d", pid)
}

func freeHolderUser(s *model.Socket, pid int) string {
	return freeHolderUserOr(s, pid, "")
}

func freeHolderUserOr(s *model.Socket, pid int, or string) string {
	for _, h := range s.Holders {
		if h.PID == pid && h.Process != nil {
			if h.Process.User != "" {
				return h.Process.User
			}
			return strconv.FormatUint(uint64(h.Process.UID), 10)
		}
	}
	return or
}

// holders plans for each process that holds the socket: covered by a step
// above, ended, or refused.
func (pl *freePlanner) holders(s *model.Socket) {
	if len(s.Holders) == 0 {
		pl.orphan(s)
		return
	}
	if s.Hidden != "" {
		pl.refuse(Refusal{
			Reason:  fmt.Sprintf("%s %s has holders whobinds cannot see (%s): ending the visible ones would leave the port held", s.Proto, s.Local, s.Hidden),
			Instead: "run whobinds with the rights to see them",
			Command: pl.elevated()})
	}
	forwarded := slices.ContainsFunc(s.Attributions, func(a model.Attribution) bool { return a.Kind == model.AttrForwarder })
	for _, h := range s.Holders {
		if h.Process == nil {
			pl.note("pid %d held %s %s and exited while whobinds looked", h.PID, s.Proto, s.Local)
			continue
		}
		if name, ok := pl.covered[h.PID]; ok {
			pl.coveredHolder(s, h, name)
			continue
		}
		if pl.explained[h.PID] {
			continue
		}
		if r, ok := pl.refusal(s, h, forwarded); ok {
			pl.refuse(r)
			continue
		}
		pl.endHolder(s, h)
	}
}

// coveredHolder is a holder that an earlier step stops. A process of a
// service unit is ended too if it survives its unit (KillMode=process).
func (pl *freePlanner) coveredHolder(s *model.Socket, h model.Holder, by string) {
	if u, ok := freeUnitOf(s, h.PID); !ok || u.Name != by {
		return // systemd holding a socket unit's socket, a container's forwarder
	}
	for _, st := range pl.p.Steps {
		if st.Kind == StopUnit && st.Name == by && pl.endable(s, h) {
			step := pl.terminateStep(h, by)
			step.IfRunning = true
			step.Text = "if it survived " + by + ": " + step.Text
			pl.addStep(step)
			return
		}
	}
}

// endHolder ends a holder; its service unit goes first when the holder is
// the unit's main process.
func (pl *freePlanner) endHolder(s *model.Socket, h model.Holder) {
	p := h.Process
	unit, inUnit := freeUnitOf(s, h.PID)
	if inUnit && freeStoppable(unit) {
		u, known := pl.facts.Units[UnitKey(unit.Manager, unit.Name)]
		switch {
		case known && u.MainPID != 0 && (u.MainPID == h.PID || freeHolds(s, u.MainPID)):
			if unit.Manager == "system" && pl.host.EUID > 0 {
				pl.refuse(Refusal{PID: h.PID, Name: unit.Name,
					Reason:  fmt.Sprintf("%s runs %s; stopping a system unit needs root", unit.Name, freeProcessOf(h)),
					Instead: "run free as root",
					Command: pl.elevated()})
				return
			}
			why := fmt.Sprintf("its main process %s holds the port", freeProcessOf(h))
			if u.MainPID != h.PID {
				why = fmt.Sprintf("its main process (pid %d) holds the port, shared with %s", u.MainPID, freeProcessOf(h))
			}
			pl.addStep(pl.unitStep(unit.Name, unit.Manager, freeHolderUser(s, h.PID), why))
			pl.covered[h.PID] = unit.Name
			pl.unitSupervisor(u, true)
			step := pl.terminateStep(h, unit.Name)
			step.IfRunning = true
			step.Text = "if it survived " + unit.Name + ": " + step.Text
			pl.addStep(step)
			return
		case known:
			pl.unitSupervisor(u, false)
		default:
			pl.supervise(Supervisor{Kind: "systemd", Name: unit.Name,
				Text: fmt.Sprintf("%s runs in %s; whether systemd restarts it is unknown (its main PID and Restart= could not be read)", freeProcessOf(h), unit.Name)})
		}
	}
	step := pl.terminateStep(h, "")
	if inUnit {
		step.Unit = unit.Name
	}
	if pl.p.OS == kb.Windows && !pl.opt.Force {
		pl.refuse(Refusal{PID: h.PID, Name: p.Name,
			Reason:  fmt.Sprintf("Windows has no graceful way for whobinds to end %s: only TerminateProcess, which gives it no chance to save anything", freeProcessOf(h)),
			Instead: "close the program yourself, or run free with --force to end it with TerminateProcess",
			Command: "taskkill /PID " + strconv.Itoa(h.PID)})
		return
	}
	if pl.p.OS == kb.Windows && p.Start.IsZero() {
		pl.refuse(Refusal{PID: h.PID, Name: p.Name,
			Reason:  fmt.Sprintf("the creation time of %s is unknown, so whobinds cannot make sure it ends the same process and not one that reused its PID", freeProcessOf(h)),
			Instead: "run whobinds as administrator",
			Command: pl.elevated()})
		return
	}
	pl.addStep(step)
	if p.PPID > 1 && !freeHolds(s, p.PPID) && len(p.Ancestors) > 0 && p.Ancestors[0].PID == p.PPID {
		pl.supervise(Supervisor{Kind: "parent", Name: p.Ancestors[0].Name, PID: p.PPID,
			Text: fmt.Sprintf("%s was started by %s (pid %d), which may start it again; free reports it if it does", p.Name, p.Ancestors[0].Name, p.PPID)})
	}
}

func (pl *freePlanner) unitSupervisor(u SystemdUnit, stopped bool) {
	if u.Restart == "" || u.Restart == "no" {
		return
	}
	text := fmt.Sprintf("%s has Restart=%s: systemd would start it again if only its process were ended; stopping the unit prevents that", u.Name, u.Restart)
	if !stopped {
		text = fmt.Sprintf("%s has Restart=%s, but the holder is not its main process (pid %d), so free ends the holder only; if it comes back, stop the unit", u.Name, u.Restart, u.MainPID)
	}
	pl.supervise(Supervisor{Kind: "systemd", Name: u.Name, PID: u.MainPID, Text: text})
}

// terminateStep ends one holder.
func (pl *freePlanner) terminateStep(h model.Holder, unit string) Step {
	p := h.Process
	st := Step{Kind: Terminate, Name: p.Name, PID: h.PID, StartTicks: p.StartTicks, Start: p.Start, PPID: p.PPID, Unit: unit}
	if len(p.Ancestors) > 0 && p.Ancestors[0].PID == p.PPID {
		st.Parent = p.Ancestors[0].Name
	}
	who := freeProcessOf(h).String()
	if p.User != "" {
		who = fmt.Sprintf("%s (pid %d, user %s)", p.Name, h.PID, p.User)
	}
	switch {
	case pl.p.OS == kb.Windows:
		st.Text = "end " + who + " with TerminateProcess (--force)"
		st.Command = "taskkill /F /PID " + strconv.Itoa(h.PID)
	case pl.opt.Force:
		st.Text = "end " + who + ": SIGTERM, then SIGKILL if it is still running at the timeout (--force)"
		st.Command = "kill -TERM " + strconv.Itoa(h.PID)
	default:
		st.Text = "end " + who + ": SIGTERM, then wait for it to exit (--force would SIGKILL it at the timeout)"
		st.Command = "kill -TERM " + strconv.Itoa(h.PID)
	}
	return st
}

// endable reports whether a covered holder may be ended if it survives
// its unit.
func (pl *freePlanner) endable(s *model.Socket, h model.Holder) bool {
	_, refused := pl.refusal(s, h, false)
	return !refused && h.Process != nil && pl.p.OS != kb.Windows
}

// refusal says why a holder must not be ended, if it must not.
func (pl *freePlanner) refusal(s *model.Socket, h model.Holder, forwarded bool) (Refusal, bool) {
	p := h.Process
	r := Refusal{PID: h.PID, Name: p.Name}
	linux := pl.p.OS == kb.Linux
	f := explain.Explain(freeOneHolder(s, h), pl.host)
	switch {
	case h.PID <= 0:
		r.Reason = fmt.Sprintf("pid %d is not a process that can be ended", h.PID)
	case f.Never != "":
		// explain's rule: PID 1, System (PID 4), critical Windows
		// processes, svchost.exe.
		r.Reason = f.Never
	case linux && (h.PID == 2 || p.PPID == 2) && p.Exe == "" && len(p.Cmdline) == 0:
		r.Reason = fmt.Sprintf("%s is a kernel thread: it cannot be ended, and it holds the socket for a kernel subsystem", freeProcessOf(h))
	case h.PID == pl.facts.Self:
		r.Reason = fmt.Sprintf("%s is this whobinds process", freeProcessOf(h))
		r.Instead = "close the socket in the program that asked whobinds to free it"
		return r, true
	case forwarded:
		r.Reason = fmt.Sprintf("%s forwards the port to a container whobinds could not name; ending it would leave the container engine's state broken", freeProcessOf(h))
		r.Instead = "stop the container that publishes the port (docker ps / podman ps show which)"
		return r, true
	case linux && pl.otherPIDNS(p):
		r.Reason = fmt.Sprintf("%s lives in another PID namespace", freeProcessOf(h))
		if p.NSPID != 0 {
			r.Reason += fmt.Sprintf(" (pid %d there)", p.NSPID)
		}
		r.Reason += ": ending it from outside bypasses that namespace's init and whatever supervises it"
		r.Instead = "stop the container or sandbox it runs in, or end it from inside its namespace"
		return r, true
	case pl.host.EUID > 0 && int(p.UID) != pl.host.EUID:
		r.Reason = fmt.Sprintf("%s runs as %s, and whobinds runs as uid %d", freeProcessOf(h), cmp.Or(p.User, "uid "+strconv.FormatUint(uint64(p.UID), 10)), pl.host.EUID)
		r.Instead = "run free as root"
		r.Command = pl.elevated()
		return r, true
	default:
		return Refusal{}, false
	}
	if r.Instead, r.Command = freeAlternative(f.Remedies, kb.RemedyUnit, kb.RemedyService); r.Instead == "" {
		r.Instead, r.Command = "leave it running: the port belongs to the system itself; if the worry is that others reach it, keep them out", ""
		if fw, cmd := freeAlternative(f.Remedies, kb.RemedyFirewall); fw != "" {
			r.Instead, r.Command = r.Instead+": "+fw, cmd
		}
	}
	return r, true
}

// freeOneHolder is s as if h were its only holder, for explain's per-holder
// rules.
func freeOneHolder(s *model.Socket, h model.Holder) *model.Socket {
	one := *s
	one.Holders = []model.Holder{h}
	return &one
}

// otherPIDNS reports whether p lives in a PID namespace other than
// whobinds'.
func (pl *freePlanner) otherPIDNS(p *model.Process) bool {
	if p.NSPID != 0 && p.NSPID != p.PID {
		return true
	}
	return pl.facts.PIDNS != 0 && p.PIDNS != 0 && p.PIDNS != pl.facts.PIDNS
}

// freeAlternative picks the first of explain's remedies (most lasting
// first) of one of the kinds: a firewall rule only hides a port, a
// configuration or registry change moves it, so only stopping a unit, a
// service or a device frees it.
func freeAlternative(rs []explain.Remedy, kinds ...string) (text, command string) {
	for _, r := range rs {
		if slices.Contains(kinds, r.Kind) {
			return r.Text, r.Command
		}
	}
	return "", ""
}

// orphan refuses a socket no process holds: the kernel owns it, or its
// holder is hidden.
func (pl *freePlanner) orphan(s *model.Socket) {
	r := Refusal{}
	switch {
	case s.Hidden != "":
		r.Reason = fmt.Sprintf("no holder of %s %s is visible (%s)", s.Proto, s.Local, s.Hidden)
		r.Instead = "run whobinds with the rights to see it"
		r.Command = pl.elevated()
	default:
		r.Reason = fmt.Sprintf("no process holds %s %s: the kernel does", s.Proto, s.Local)
		for _, a := range s.Attributions {
			if a.Kind != model.AttrKernel {
				continue
			}
			r.Name = a.Name
			switch {
			case a.Ambiguous:
				// Seen from a child PID namespace: the holder may be
				// a process outside it.
				r.Reason = fmt.Sprintf("no process whobinds can see holds %s %s", s.Proto, s.Local)
			case a.Name != "" && a.Manager != "":
				r.Reason = fmt.Sprintf("no process holds %s %s: the kernel does, for the %s device %s", s.Proto, s.Local, a.Manager, a.Name)
			}
			if a.Detail != "" {
				r.Reason += " (" + a.Detail + ")"
			}
			break
		}
		if r.Instead, r.Command = freeAlternative(explain.Explain(s, pl.host).Remedies, kb.RemedyUnit, kb.RemedyService, kb.RemedyOther); r.Instead == "" {
			r.Instead = "find the kernel component that opened it and turn that off"
		}
	}
	pl.refuse(r)
}

// elevated is the command line that runs free with more rights.
func (pl *freePlanner) elevated() string {
	if pl.p.OS == kb.Windows {
		return "whobinds free " + pl.p.Port + " (in an elevated prompt)"
	}
	return "sudo whobinds free " + pl.p.Port
}

// freeUnitOf returns the systemd unit a holder runs in.
func freeUnitOf(s *model.Socket, pid int) (model.Attribution, bool) {
	for _, a := range s.Attributions {
		if a.Kind == model.AttrUnit && a.PID == pid {
			return a, true
		}
	}
	return model.Attribution{}, false
}

// freeStoppable reports whether free may stop a unit a holder runs in: a
// service, never a user's whole manager (user@UID.service) and never a
// scope (a login session, a terminal's tab: they do not restart
// anything, and stopping one ends everything in it).
func freeStoppable(a model.Attribution) bool {
	return strings.HasSuffix(a.Name, ".service") && !strings.HasPrefix(a.Name, "user@") && (a.Manager == "system" || strings.HasPrefix(a.Manager, "user@"))
}

func freeHolds(s *model.Socket, pid int) bool {
	return slices.ContainsFunc(s.Holders, func(h model.Holder) bool { return h.PID == pid })
}

// ParseSystemctlShow parses the output of `systemctl show -p ... UNIT...`:
// one block of KEY=VALUE lines per unit, blocks separated by empty lines.
// Units without an Id= line are skipped; malformed numbers are errors.
func ParseSystemctlShow(b []byte, manager string) ([]SystemdUnit, error) {
	var out []SystemdUnit
	var u SystemdUnit
	flush := func() {
		if u.Name != "" {
			u.Manager = manager
			out = append(out, u)
		}
		u = SystemdUnit{}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return out, fmt.Errorf("systemctl show: line %q has no '='", line)
		}
		switch k {
		case "Id":
			u.Name = v
		case "LoadState":
			u.LoadState = v
		case "ActiveState":
			u.ActiveState = v
		case "UnitFileState":
			u.UnitFileState = v
		case "Restart":
			u.Restart = v
		case "MainPID":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return out, fmt.Errorf("systemctl show: MainPID=%q is not a PID", v)
			}
			u.MainPID = n
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("systemctl show: %w", err)
	}
	flush()
	return out, nil
}

// freeUnitsToAsk lists, per manager, the units whose facts the plan needs: the
// service units holders run in and the socket units systemd holds.
func freeUnitsToAsk(snap *model.Snapshot) map[string][]string {
	want := map[string][]string{}
	add := func(manager, name string) {
		if name != "" && !strings.Contains(name, "@.") && !slices.Contains(want[manager], name) {
			want[manager] = append(want[manager], name)
		}
	}
	for i := range snap.Sockets {
		for _, a := range snap.Sockets[i].Attributions {
			switch {
			case a.Kind == model.AttrUnit && freeStoppable(a):
				add(a.Manager, a.Name)
			case a.Kind == model.AttrSocketActivation && a.Manager == "systemd":
				add("system", a.Name)
			case a.Kind == model.AttrSocketActivation && strings.HasPrefix(a.Manager, "systemd user@"):
				add(strings.TrimPrefix(a.Manager, "systemd "), a.Name)
			}
		}
	}
	return want
}

// FreeState is the outcome of free for one port.
type FreeState string

// The states.
const (
	// AlreadyFree: nothing held the port; nothing was done.
	AlreadyFree FreeState = "already-free"
	// Freed: the plan ran and the port is free.
	Freed FreeState = "freed"
	// StillHeld: the plan ran, and something holds the port at the end.
	StillHeld FreeState = "still-held"
	// Refused: the plan has refusals; nothing was done.
	Refused FreeState = "refused"
	// Failed: a step failed; the steps after it were not run.
	Failed FreeState = "failed"
	// Planned: the plan was only shown (--dry-run, or not confirmed).
	Planned FreeState = "planned"
)

// StepResult is what happened to one step.
type StepResult struct {
	Step Step `json:"step"`
	// OK is false when the step failed; Text says what happened.
	OK   bool   `json:"ok"`
	Text string `json:"text"`
}

// Comeback is a holder found at the end, and who brought it back.
type Comeback struct {
	Process ProcessRef `json:"process"`
	// By is "still-running" (the process did not exit), "parent",
	// "systemd", "socket-unit", "container" or "other".
	By   string `json:"by"`
	Name string `json:"by_name,omitempty"`
	PID  int    `json:"by_pid,omitempty"`
	Text string `json:"text"`
}

// FreeResult is the outcome of free for one port.
type FreeResult struct {
	Plan  *Plan        `json:"-"`
	State FreeState    `json:"state"`
	Done  []StepResult `json:"done"`
	// HeldBy and CameBack say who holds the port at the end, when it is
	// still held.
	HeldBy   []HeldSocket `json:"held_by,omitempty"`
	CameBack []Comeback   `json:"came_back,omitempty"`
	// Notes say what else was seen (a respawn that may yet take the port).
	Notes []string `json:"notes,omitempty"`

	// baseline are the children of the watched parents before free
	// signalled, to tell their respawns from siblings.
	baseline map[int][]freeChild
}

// errGone and errReused are what system.open says when the process of a
// Terminate step no longer runs.
var (
	errFreeGone   = errors.New("process has exited")
	errFreeReused = errors.New("PID reused by another process")
)

// freeOS is what an operating system provides to carry out a plan.
type freeOS interface {
	// gather reads the facts the plan needs about the snapshot's units,
	// containers and whobinds itself. It never fails: what it cannot
	// read is a warning.
	gather(ctx context.Context, snap *model.Snapshot) FreeFacts
	// stop carries out a StopUnit, StopService or StopContainer step.
	stop(ctx context.Context, s Step) error
	// open returns the process of a Terminate step, verified to be the
	// same process (errGone, errReused when it is not).
	open(s Step) (freeProc, error)
	// children lists the live children of a process, to see a parent
	// respawn what free ended; nil where unknown.
	children(ppid int) []freeChild
}

// freeProc is an open, verified process.
type freeProc interface {
	// terminate asks it to exit (SIGTERM; TerminateProcess on Windows).
	terminate() error
	// kill ends it (SIGKILL; TerminateProcess on Windows).
	kill() error
	// wait reports whether it exited before the deadline.
	wait(deadline time.Time) bool
	close()
}

// freeChild is a process seen as a child of another.
type freeChild struct {
	PID        int
	Name       string
	StartTicks uint64
}

// newFreeOS is set by the file of the running OS; nil means free cannot
// act here.
var newFreeOS func() freeOS

// Freer plans and frees ports. It is not safe for concurrent use.
type Freer struct {
	// Collect takes a snapshot: (*engine.Engine).Collect.
	Collect func(context.Context, engine.Query) (*model.Snapshot, error)
	// Timeout bounds the wait for ended processes to exit (then --force
	// kills them) and then for the port to be free. 10 s when zero.
	Timeout time.Duration
	// Force allows SIGKILL (Linux) and TerminateProcess (Windows).
	Force bool
	// Settle is how long a freed port must stay free before free says so,
	// to see a respawning parent take it again. 1 s when zero.
	Settle time.Duration
	// Progress, when set, is told each step's result as it happens.
	Progress func(p *Plan, r StepResult)

	sys freeOS
	// beforeOpen is a test hook, called before the process of a
	// Terminate step is opened and verified.
	beforeOpen func(Step)
}

const (
	freePoll = 100 * time.Millisecond
	// freeKillWait bounds the wait for a process to exit after SIGKILL.
	freeKillWait = 5 * time.Second
)

func (f *Freer) os() (freeOS, error) {
	if f.sys == nil {
		if newFreeOS == nil {
			return nil, fmt.Errorf("freeing ports on %s: %w yet", runtime.GOOS, engine.ErrNotSupported)
		}
		f.sys = newFreeOS()
	}
	return f.sys, nil
}

// FreeQuery is what free collects for targets: listeners and bound sockets.
func FreeQuery(ts []target.Target) engine.Query {
	return engine.Query{Targets: ts, SkipRPC: true}
}

// Plan collects the sockets of the targets and plans freeing each. The
// warnings are the snapshot's and what the facts could not learn.
func (f *Freer) Plan(ctx context.Context, ts []target.Target) (plans []Plan, warnings []string, err error) {
	sys, err := f.os()
	if err != nil {
		return nil, nil, err
	}
	snap, err := f.Collect(ctx, FreeQuery(ts))
	if err != nil {
		return nil, nil, err
	}
	facts := sys.gather(ctx, snap)
	for _, t := range ts {
		plans = append(plans, PlanFree(snap, t, facts, PlanOptions{Force: f.Force}))
	}
	return plans, append(slices.Clip(snap.Warnings), facts.Warnings...), nil
}

// Free carries out the plans that are neither refused nor already free,
// then waits for their ports to be free and says who holds the ports
// that are not.
func (f *Freer) Free(ctx context.Context, plans []Plan) ([]FreeResult, error) {
	sys, err := f.os()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(cmp.Or(f.Timeout, 10*time.Second))
	results := make([]FreeResult, len(plans))
	for i := range plans {
		p := &plans[i]
		r := &results[i]
		r.Plan, r.Done = p, []StepResult{}
		switch {
		case p.Free():
			r.State = AlreadyFree
		case p.Refused():
			r.State = Refused
		default:
			if f.carry(ctx, sys, p, r, deadline) {
				r.State = StillHeld // until the wait below says otherwise
			} else {
				r.State = Failed
			}
		}
	}
	for i := range plans {
		if results[i].State != StillHeld {
			continue
		}
		if err := f.wait(ctx, sys, &plans[i], &results[i], deadline); err != nil {
			return results, err
		}
	}
	return results, nil
}

func (f *Freer) done(p *Plan, r *FreeResult, s Step, ok bool, format string, args ...any) {
	sr := StepResult{Step: s, OK: ok, Text: fmt.Sprintf(format, args...)}
	r.Done = append(r.Done, sr)
	if f.Progress != nil {
		f.Progress(p, sr)
	}
}

// carry runs the steps of one plan; false when one failed.
func (f *Freer) carry(ctx context.Context, sys freeOS, p *Plan, r *FreeResult, deadline time.Time) bool {
	var terms []Step
	for _, s := range p.Steps {
		if s.Kind == Terminate {
			terms = append(terms, s)
			continue
		}
		sctx, cancel := context.WithDeadline(ctx, deadline.Add(time.Minute))
		err := sys.stop(sctx, s)
		cancel()
		if err != nil {
			f.done(p, r, s, false, "%v", err)
			return false
		}
		f.done(p, r, s, true, "stopped %s", s.Name)
	}
	type opened struct {
		s Step
		p freeProc
	}
	var live []opened
	defer func() {
		for _, o := range live {
			o.p.close()
		}
	}()
	r.baseline = map[int][]freeChild{}
	for _, ppid := range freeWatchedParents(p) {
		r.baseline[ppid] = sys.children(ppid)
	}
	ok := true
	for _, s := range terms {
		if f.beforeOpen != nil {
			f.beforeOpen(s)
		}
		pr, err := sys.open(s)
		switch {
		case errors.Is(err, errFreeGone) && s.IfRunning:
			f.done(p, r, s, true, "pid %d exited with %s", s.PID, s.Unit)
			continue
		case errors.Is(err, errFreeGone):
			f.done(p, r, s, true, "pid %d had exited already", s.PID)
			continue
		case errors.Is(err, errFreeReused):
			f.done(p, r, s, true, "not signalled: %v", err)
			continue
		case err != nil:
			f.done(p, r, s, false, "not signalled: %v", err)
			ok = false
			continue
		}
		if err := pr.terminate(); err != nil {
			pr.close()
			if errors.Is(err, errFreeGone) {
				f.done(p, r, s, true, "pid %d had exited already", s.PID)
				continue
			}
			f.done(p, r, s, false, "%v", err)
			ok = false
			continue
		}
		live = append(live, opened{s, pr})
	}
	for _, o := range live {
		if o.p.wait(deadline) {
			f.done(p, r, o.s, true, "%s (pid %d) exited", o.s.Name, o.s.PID)
			continue
		}
		if !f.Force {
			f.done(p, r, o.s, true, "%s (pid %d) is still running after SIGTERM; --force would SIGKILL it", o.s.Name, o.s.PID)
			if p.OS == kb.Windows {
				r.Done[len(r.Done)-1].Text = fmt.Sprintf("%s (pid %d) is still running", o.s.Name, o.s.PID)
			}
			continue
		}
		if err := o.p.kill(); err != nil && !errors.Is(err, errFreeGone) {
			f.done(p, r, o.s, false, "%v", err)
			ok = false
			continue
		}
		if o.p.wait(time.Now().Add(freeKillWait)) {
			f.done(p, r, o.s, true, "%s (pid %d) was killed (SIGKILL, --force)", o.s.Name, o.s.PID)
		} else {
			f.done(p, r, o.s, false, "%s (pid %d) is still running after SIGKILL (stuck in the kernel?)", o.s.Name, o.s.PID)
			ok = false
		}
	}
	return ok
}

// wait polls the port cheaply (its listeners only, without holders) until
// it is free and stays free for Settle, or something takes it again, or
// the deadline; then it says who holds it.
func (f *Freer) wait(ctx context.Context, sys freeOS, p *Plan, r *FreeResult, deadline time.Time) error {
	settle := cmp.Or(f.Settle, time.Second)
	before := map[uint64]bool{}
	for _, s := range p.Sockets {
		before[s.Inode] = true
	}
	q := FreeQuery([]target.Target{p.Target})
	q.SocketsOnly = true
	var freeSince time.Time
	for {
		snap, err := f.Collect(ctx, q)
		if err != nil {
			return fmt.Errorf("checking %s: %w", p.Port, err)
		}
		held := freeListeners(snap.Sockets, p.Target)
		now := time.Now()
		if len(held) == 0 {
			if freeSince.IsZero() {
				freeSince = now
			}
			pending := freeRespawning(sys, p, r.baseline)
			if (now.Sub(freeSince) >= settle && len(pending) == 0) || !now.Before(deadline) {
				r.State = Freed
				for _, c := range pending {
					r.Notes = append(r.Notes, fmt.Sprintf("%s (pid %d) was started since by the same parent and may take the port again", c.Name, c.PID))
				}
				return nil
			}
		} else {
			// Taken again after it was free, or by a new socket: the
			// owner came back.
			if !freeSince.IsZero() || slices.ContainsFunc(held, func(s model.Socket) bool { return !before[s.Inode] }) || !now.Before(deadline) {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(freePoll, max(time.Until(deadline), time.Millisecond))):
		}
	}
	snap, err := f.Collect(ctx, FreeQuery([]target.Target{p.Target}))
	if err != nil {
		return fmt.Errorf("checking %s: %w", p.Port, err)
	}
	held := freeListeners(snap.Sockets, p.Target)
	if len(held) == 0 { // released between the two looks
		r.State = Freed
		return nil
	}
	r.State = StillHeld
	for i := range held {
		r.HeldBy = append(r.HeldBy, freeHeldSocket(&held[i]))
	}
	r.CameBack = CameBack(p, held, f.Force)
	return nil
}

// freeWatchedParents are the parents of the processes a plan ends that may
// respawn them: alive as far as the plan knows, and not ended themselves.
func freeWatchedParents(p *Plan) []int {
	var out []int
	for _, s := range p.Steps {
		if s.Kind != Terminate || s.PPID <= 1 || slices.Contains(out, s.PPID) ||
			slices.ContainsFunc(p.Steps, func(x Step) bool { return x.Kind == Terminate && x.PID == s.PPID }) {
			continue
		}
		out = append(out, s.PPID)
	}
	return out
}

// freeRespawning lists the children those parents started since free
// signalled (they are not in the baseline taken before), named as a
// process free ended: a respawn that may not have bound the port yet.
func freeRespawning(sys freeOS, p *Plan, baseline map[int][]freeChild) []freeChild {
	var out []freeChild
	for _, ppid := range freeWatchedParents(p) {
		for _, c := range sys.children(ppid) {
			if slices.Contains(baseline[ppid], c) {
				continue
			}
			if slices.ContainsFunc(p.Steps, func(x Step) bool { return x.Kind == Terminate && x.PPID == ppid && x.Name == c.Name }) {
				out = append(out, c)
			}
		}
	}
	return out
}

// freeListeners are the sockets on exactly t's port that listen or are bound.
func freeListeners(socks []model.Socket, t target.Target) []model.Socket {
	var out []model.Socket
	for _, s := range socks {
		if s.IsListener() && t.Match(&s) {
			out = append(out, s)
		}
	}
	return out
}

// CameBack says, for each holder of the port after a plan ran, why it
// holds it: a process that did not exit, a respawn by the parent of one
// that did, a unit or socket unit systemd restarted, a container that runs
// again, or a newcomer. It is pure.
func CameBack(p *Plan, held []model.Socket, forced bool) []Comeback {
	var out []Comeback
	seen := map[int]bool{}
	for i := range held {
		s := &held[i]
		if len(s.Holders) == 0 {
			c := Comeback{Process: ProcessRef{Name: "kernel"}, By: "other", Text: fmt.Sprintf("no visible process holds %s %s", s.Proto, s.Local)}
			if s.Hidden != "" {
				c.Text += " (" + s.Hidden + ")"
			}
			out = append(out, c)
			continue
		}
		for _, h := range s.Holders {
			if seen[h.PID] {
				continue
			}
			seen[h.PID] = true
			out = append(out, freeCameBack(p, s, h, forced))
		}
	}
	return out
}

func freeCameBack(p *Plan, s *model.Socket, h model.Holder, forced bool) Comeback {
	c := Comeback{Process: freeProcessOf(h), By: "other"}
	hp := h.Process
	for _, st := range p.Steps {
		if st.Kind == Terminate && st.PID == h.PID && hp != nil && st.StartTicks == hp.StartTicks && st.Start.Equal(hp.Start) {
			c.By = "still-running"
			c.Text = fmt.Sprintf("%s did not exit", c.Process)
			if !forced && p.OS != kb.Windows {
				c.Text += "; --force SIGKILLs it at the timeout"
			}
			return c
		}
	}
	for _, a := range s.Attributions {
		if a.Kind == model.AttrSocketActivation && a.PID == h.PID && a.Name != "" {
			c.By, c.Name, c.PID = "socket-unit", a.Name, h.PID
			c.Text = fmt.Sprintf("systemd listens again for %s", a.Name)
			return c
		}
	}
	if hp != nil && hp.PPID > 1 {
		for _, st := range p.Steps {
			if st.Kind == Terminate && st.PPID == hp.PPID {
				c.By, c.Name, c.PID = "parent", cmp.Or(st.Parent, "its parent"), hp.PPID
				c.Text = fmt.Sprintf("%s was started by %s (pid %d), the parent of the process free ended: it respawns it; stop or reconfigure the parent", c.Process, c.Name, c.PID)
				return c
			}
		}
	}
	if u, ok := freeUnitOf(s, h.PID); ok {
		for _, st := range p.Steps {
			if (st.Kind == StopUnit && st.Name == u.Name) || (st.Kind == Terminate && st.Unit == u.Name) {
				c.By, c.Name = "systemd", u.Name
				c.Text = fmt.Sprintf("%s runs in %s again: systemd restarted it", c.Process, u.Name)
				return c
			}
		}
	}
	for _, a := range s.Attributions {
		if (a.Kind == model.AttrContainer || a.Kind == model.AttrForwarder) && a.Name != "" {
			for _, st := range p.Steps {
				if st.Kind == StopContainer && st.Name == a.Name {
					c.By, c.Name = "container", a.Name
					c.Text = fmt.Sprintf("the container %s runs again", a.Name)
					return c
				}
			}
		}
	}
	c.Text = fmt.Sprintf("%s took the port", c.Process)
	if hp != nil && len(hp.Ancestors) > 0 {
		c.Text += fmt.Sprintf(", started by %s (pid %d)", hp.Ancestors[0].Name, hp.Ancestors[0].PID)
	}
	return c
}
