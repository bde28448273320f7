package engine

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/windows/httpsys"
	"github.com/whobinds/whobinds/internal/windows/iphlpapi"
	"github.com/whobinds/whobinds/internal/windows/scm"
	"github.com/whobinds/whobinds/internal/windows/wine"
	"github.com/whobinds/whobinds/internal/windows/winproc"
)

// The PIDs Windows gives to the kernel's own pseudo-processes.
const (
	pidIdle   = 0 // "System Idle Process": TIME_WAIT leftovers
	pidSystem = 4 // "System": kernel drivers (http.sys, srv2.sys, NetBT)
)

// winEnricher owns and explains the rows of one collection. Every source
// is read at most once, and only when a row needs it.
type winEnricher struct {
	w        *windowsSource
	elevated bool

	procs    map[int]winproc.Entry
	procErr  error
	details  map[int]*model.Process
	scm      *scm.Manager
	services map[int][]scm.Service
	svcErr   error
	svcRead  bool
	configs  map[string]scm.Config

	http     *httpsys.State
	httpErr  error
	httpRead bool
	acls     []httpsys.URLACL
	aclErr   error
	certs    []httpsys.SSLCert
	certErr  error
	confRead bool
}

func newWinEnricher(w *windowsSource, elevated bool) *winEnricher {
	e := &winEnricher{w: w, elevated: elevated, details: map[int]*model.Process{}, configs: map[string]scm.Config{}}
	e.procs, e.procErr = winproc.List()
	if e.procErr != nil {
		w.warn("listing processes: %v", e.procErr)
	}
	return e
}

func (e *winEnricher) close() {
	if e.scm != nil {
		e.scm.Close()
	}
}

// adminHint ends a sentence about something only an administrator sees.
func (e *winEnricher) adminHint() string {
	if e.elevated {
		return ""
	}
	return "; run as administrator to see it"
}

// own turns the row's owner PID into a holder, checking that the process
// with that PID now is the one that created the socket.
func (e *winEnricher) own(r *row) {
	s := &r.sock
	pid := int(r.r.PID)
	switch pid {
	case pidIdle:
		switch {
		case s.State == model.TimeWait:
			// TIME_WAIT leftovers belong to no process on Windows.
		case wine.Detected():
			s.Hidden = "the socket table names no owner (PID 0): Wine 8 does this for sockets its wineserver holds"
		default:
			s.Hidden = "the socket table names no owner (PID 0)"
		}
		return
	case pidSystem:
		s.Holders = []model.Holder{{PID: pid, Process: e.process(pid)}}
		return
	}
	if _, ok := e.procs[pid]; !ok && e.procErr == nil {
		s.Hidden = fmt.Sprintf("PID %d created the socket and has exited; a child process that inherited the socket may hold it now", pid)
		return
	}
	p := e.process(pid)
	if p != nil && !p.Start.IsZero() && !r.r.Created.IsZero() && p.Start.After(r.r.Created) {
		s.Hidden = fmt.Sprintf("PID %d was reused: %s started after the socket was created, so the socket's creator has exited; a child that inherited the socket may hold it now", pid, p.Name)
		return
	}
	s.Holders = []model.Holder{{PID: pid, Process: p}}
}

func (e *winEnricher) process(pid int) *model.Process {
	if p, ok := e.details[pid]; ok {
		return p
	}
	p := winproc.Details(pid, e.procs)
	e.details[pid] = p
	return p
}

// attribute says why the socket is there: the service inside the holder,
// or for System the http.sys URL that made the kernel listen.
func (e *winEnricher) attribute(ctx context.Context, r *row) {
	s := &r.sock
	if len(s.Holders) == 0 {
		return
	}
	pid := s.Holders[0].PID
	if pid == pidSystem {
		e.system(ctx, r)
		return
	}
	e.service(r, pid)
}

// service names the Windows service inside the holder: exactly from the
// socket's service tag, or from a process that hosts one service; else
// every service of the process, marked ambiguous.
func (e *winEnricher) service(r *row, pid int) {
	svcs := e.servicesOf(pid)
	if len(svcs) == 0 {
		return
	}
	name, evidence, why := e.exactService(r, pid, svcs)
	if name != "" {
		a := model.Attribution{Kind: model.AttrService, PID: pid, Name: name, Manager: "scm", Evidence: evidence}
		a.Detail = e.describe(name, svcs)
		r.sock.Attributions = append(r.sock.Attributions, a)
		return
	}
	for _, sv := range svcs {
		r.sock.Attributions = append(r.sock.Attributions, model.Attribution{
			Kind: model.AttrService, PID: pid, Name: sv.Name, Manager: "scm", Ambiguous: true,
			Detail:   sv.DisplayName,
			Evidence: fmt.Sprintf("%s (PID %d) hosts %d services and %s", processName(r.sock.Holders[0]), pid, len(svcs), why),
		})
	}
}

// exactService finds the one service that opened the socket, or says why
// it cannot.
func (e *winEnricher) exactService(r *row, pid int, svcs []scm.Service) (name, evidence, why string) {
	tag := r.r.Tag
	if tag != 0 {
		mod, _, err := iphlpapi.OwnerModule(&r.r)
		if err == nil && hasService(svcs, mod) {
			return canonical(svcs, mod), fmt.Sprintf("service tag %d of the socket (GetOwnerModuleFromTcpEntry)", tag), ""
		}
		n, terr := scm.NameFromTag(uint32(pid), tag)
		if terr == nil && n != "" {
			return canonical(svcs, n), fmt.Sprintf("service tag %d of the socket (I_QueryTagInformation)", tag), ""
		}
		why = fmt.Sprintf("the socket's service tag %d could not be resolved (%v)%s", tag, firstErr(err, terr), e.adminHint())
	}
	if len(svcs) == 1 {
		return svcs[0].Name, fmt.Sprintf("the only service in PID %d (EnumServicesStatusEx)", pid), ""
	}
	if why == "" {
		why = "the socket carries no service tag"
		if !e.elevated {
			why += "; running as administrator names the exact one"
		}
	}
	return "", "", why
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func hasService(svcs []scm.Service, name string) bool {
	return canonical(svcs, name) != ""
}

// canonical returns the service's name as the SCM spells it.
func canonical(svcs []scm.Service, name string) string {
	for _, sv := range svcs {
		if strings.EqualFold(sv.Name, name) {
			return sv.Name
		}
	}
	return ""
}

// describe is the display name and start type of a service.
func (e *winEnricher) describe(name string, svcs []scm.Service) string {
	d := ""
	for _, sv := range svcs {
		if sv.Name == name {
			d = sv.DisplayName
		}
	}
	c, ok := e.configs[name]
	if !ok && e.scm != nil {
		var err error
		c, err = e.scm.Config(name)
		if err != nil {
			e.w.warn("reading the configuration of service %s: %v", name, err)
		}
		e.configs[name] = c
	}
	if d == "" {
		d = c.DisplayName
	}
	if c.StartType != "" {
		d += " (start: " + c.StartType + ")"
	}
	return strings.TrimSpace(d)
}

func (e *winEnricher) servicesOf(pid int) []scm.Service {
	if !e.svcRead {
		e.svcRead = true
		e.scm, e.svcErr = scm.Open()
		if e.svcErr == nil {
			e.services, e.svcErr = e.scm.ByPID()
		}
		if e.svcErr != nil {
			e.w.warn("listing services: %v; services inside processes are not named", e.svcErr)
		}
	}
	return e.services[pid]
}

func processName(h model.Holder) string {
	if h.Process != nil && h.Process.Name != "" {
		return h.Process.Name
	}
	return fmt.Sprintf("PID %d", h.PID)
}

// system explains a socket of System (PID 4): a URL registered with
// http.sys on its port, or the kernel itself.
func (e *winEnricher) system(ctx context.Context, r *row) {
	s := &r.sock
	if s.Proto != model.TCP {
		return
	}
	port := int(s.Local.Port())
	e.readHTTP(ctx)
	if e.http != nil {
		found := false
		for _, q := range e.http.Queues {
			for _, u := range q.URLs {
				if p, ok := httpsys.URLPort(u); !ok || p != port {
					continue
				}
				found = true
				s.Attributions = append(s.Attributions, e.registration(u, q, e.http.Source))
			}
		}
		if !found {
			s.Attributions = append(s.Attributions, model.Attribution{
				Kind: model.AttrKernel, Name: "System", Manager: "windows",
				Detail:   "no URL registered with http.sys uses this port: a kernel driver holds it (SMB srv2.sys on 445, NetBT on 137-139)",
				Evidence: e.http.Source,
			})
		}
		return
	}
	// Who registered what is unknown: the configuration store still says
	// which prefixes are reserved and which certificates are bound here.
	e.readConfig()
	for _, a := range e.acls {
		if p, ok := httpsys.URLPort(a.Prefix); ok && p == port {
			s.Attributions = append(s.Attributions, model.Attribution{
				Kind: model.AttrHTTPSys, PID: pidSystem, Name: a.Prefix, Ambiguous: true,
				Detail:   "reserved for " + a.SDDL + "; a reservation alone opens no port, so this is a candidate",
				Evidence: "URL reservation (netsh http show urlacl)",
			})
		}
	}
	for _, c := range e.certs {
		if int(c.Addr.Port()) == port {
			s.Attributions = append(s.Attributions, model.Attribution{
				Kind: model.AttrHTTPSys, PID: pidSystem, Name: c.Addr.String(), Ambiguous: true,
				Detail:   "TLS certificate " + c.Thumbprint + " bound for application " + c.AppID,
				Evidence: "SSL binding (netsh http show sslcert)",
			})
		}
	}
}

// registration is the attribution for one URL of one request queue.
func (e *winEnricher) registration(url string, q httpsys.Queue, source string) model.Attribution {
	a := model.Attribution{Kind: model.AttrHTTPSys, PID: pidSystem, Name: url, Evidence: source}
	var who []string
	for _, p := range q.Processes {
		name := e.queueService(p)
		if name != "" && a.Service == "" {
			a.Service = name
		}
		img := path.Base(strings.ReplaceAll(p.Image, `\`, "/"))
		if img == "." || img == "/" || img == "" {
			if pr := e.process(p.PID); pr != nil {
				img = pr.Name
			}
		}
		w := fmt.Sprintf("%s (PID %d)", img, p.PID)
		if name != "" {
			w = name + " in " + w
		}
		who = append(who, w)
	}
	switch {
	case len(who) > 0:
		a.Detail = "registered by " + strings.Join(who, ", ")
		if a.Service == "" && len(q.Processes) > 0 {
			a.Service = fmt.Sprintf("PID %d", q.Processes[0].PID)
		}
	case q.ControllerPID != 0:
		a.Detail = fmt.Sprintf("request queue controlled by PID %d; no process is attached", q.ControllerPID)
	default:
		a.Detail = "no process is attached to its request queue"
	}
	if q.Name != "" {
		a.Detail += "; request queue " + q.Name
	}
	return a
}

// queueService names the service behind a request queue's process: as
// netsh names it, from its service tag, or the only service the process
// hosts.
func (e *winEnricher) queueService(p httpsys.Process) string {
	if p.Service != "" {
		return p.Service
	}
	svcs := e.servicesOf(p.PID)
	if p.Tag != 0 {
		if n, err := scm.NameFromTag(uint32(p.PID), p.Tag); err == nil && n != "" {
			return n
		}
	}
	if len(svcs) == 1 {
		return svcs[0].Name
	}
	return ""
}

func (e *winEnricher) readHTTP(ctx context.Context) {
	if e.httpRead {
		return
	}
	e.httpRead = true
	e.http, e.httpErr = httpsys.ServiceState(ctx)
	if e.httpErr != nil {
		msg := fmt.Sprintf("which processes registered URLs with http.sys is unknown: %v", e.httpErr)
		if errors.Is(e.httpErr, httpsys.ErrNeedsAdmin) && !e.elevated {
			msg += "; run as administrator to see them"
		}
		e.w.warn("%s", msg)
	}
}

func (e *winEnricher) readConfig() {
	if e.confRead {
		return
	}
	e.confRead = true
	e.acls, e.aclErr = httpsys.URLACLs()
	e.certs, e.certErr = httpsys.SSLCerts()
	for _, err := range []error{e.aclErr, e.certErr} {
		if err != nil && !errors.Is(err, httpsys.ErrNotAvailable) {
			e.w.warn("reading the http.sys configuration: %v", err)
		}
	}
}
