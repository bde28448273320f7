package engine

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
	"github.com/whobinds/whobinds/internal/windows/iphlpapi"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

func init() {
	newSource = func(opt Options) (source, error) { return &windowsSource{opt: opt}, nil }
}

// windowsSource collects with GetExtendedTcpTable/GetExtendedUdpTable, whose
// rows already name the owner PID and the service tag, and enriches from the
// process snapshot, the service control manager and http.sys.
type windowsSource struct {
	opt      Options
	warnings []string
}

func (w *windowsSource) warn(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !slices.Contains(w.warnings, s) {
		w.warnings = append(w.warnings, s)
	}
}

func (w *windowsSource) close() error { return nil }

func (w *windowsSource) firewall(context.Context) (Firewall, error) {
	return nil, fmt.Errorf("reading Windows Defender Firewall: %w yet", ErrNotSupported)
}

// hostNS is the one "namespace" Windows has.
var hostNS = model.NetNS{Name: "host"}

// row is a socket with the table row it came from.
type row struct {
	sock model.Socket
	r    iphlpapi.Row
}

func (w *windowsSource) collect(ctx context.Context, q Query) (*model.Snapshot, error) {
	w.warnings = nil
	snap := &model.Snapshot{Host: model.Host{
		OS: "windows", Time: time.Now(), EUID: -1,
		NetNS: hostNS, Namespaces: []model.NetNS{hostNS},
	}}
	snap.Host.Hostname, _ = os.Hostname()

	rows, err := w.tables(ctx, q)
	if err != nil {
		return nil, err
	}
	rows = slices.DeleteFunc(rows, func(r row) bool { return !target.MatchAny(q.Targets, &r.sock) })
	if q.SocketsOnly {
		snap.Sockets = sockets(rows)
		snap.Warnings = w.warnings
		return snap, nil
	}

	elevated := windows.GetCurrentProcessToken().IsElevated()
	e := newWinEnricher(w, elevated)
	defer e.close()
	for i := range rows {
		e.own(&rows[i])
	}
	for i := range rows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e.attribute(ctx, &rows[i])
	}
	snap.Sockets = sockets(rows)
	if len(snap.Sockets) == 0 {
		w.portRanges(ctx, q, &snap.Host)
	}
	w.markHidden(snap)
	snap.Warnings = w.warnings
	return snap, nil
}

func sockets(rows []row) []model.Socket {
	out := make([]model.Socket, len(rows))
	for i := range rows {
		out[i] = rows[i].sock
	}
	return out
}

// tables reads the socket tables the query asks for: the owner-module
// classes (PID, creation time and service tag in one call), falling back to
// the owner-PID classes when those fail.
func (w *windowsSource) tables(ctx context.Context, q Query) ([]row, error) {
	var out []row
	read, lastErr := 0, error(nil)
	for _, sp := range q.specs() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := tableOf(sp)
		class, fallback := iphlpapi.OwnerModuleListener, iphlpapi.OwnerPIDListener
		if q.AllStates {
			class, fallback = iphlpapi.OwnerModuleAll, iphlpapi.OwnerPIDAll
		}
		rs, err := iphlpapi.Get(t, class)
		if err != nil {
			var ferr error
			rs, ferr = iphlpapi.Get(t, fallback)
			if ferr != nil {
				lastErr = fmt.Errorf("listing %s sockets: %v; and without owner modules: %v", t, err, ferr)
				w.warn("%v", lastErr)
				continue
			}
			w.warn("listing %s sockets with their service tags failed (%v): listed them without, so services inside shared processes are not named exactly", t, err)
		}
		read++
		for _, r := range rs {
			if !q.AllStates && !listening(r) {
				continue
			}
			out = append(out, row{sock: socketOf(r), r: r})
		}
	}
	if read == 0 && lastErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrQuery, lastErr)
	}
	return out, nil
}

func tableOf(sp dumpSpec) iphlpapi.Table {
	switch {
	case sp.proto == model.TCP && sp.family == 4:
		return iphlpapi.TCP4
	case sp.proto == model.TCP:
		return iphlpapi.TCP6
	case sp.family == 4:
		return iphlpapi.UDP4
	}
	return iphlpapi.UDP6
}

// listening reports whether a row is a listener or a bound UDP socket. The
// listener classes return only those already; a fallback class may not.
func listening(r iphlpapi.Row) bool {
	if r.Table == iphlpapi.UDP4 || r.Table == iphlpapi.UDP6 {
		return true
	}
	return r.State == model.Listen
}

func socketOf(r iphlpapi.Row) model.Socket {
	s := model.Socket{Local: r.Local, State: r.State, NetNS: hostNS}
	switch r.Table {
	case iphlpapi.TCP4, iphlpapi.TCP6:
		s.Proto = model.TCP
		s.Remote = r.Remote
	default:
		s.Proto = model.UDP
	}
	return s
}

// markHidden counts sockets whose owner the tables did not name.
func (w *windowsSource) markHidden(snap *model.Snapshot) {
	for _, s := range snap.Sockets {
		if s.Hidden != "" && s.State != model.TimeWait {
			snap.Hidden.Sockets++
		}
	}
	if snap.Hidden.Sockets == 0 {
		return
	}
	switch {
	case wine.Detected():
		snap.Hidden.Reason = "Wine's socket tables name no owner (PID 0) for sockets its wineserver holds"
	default:
		snap.Hidden.Reason = "the socket tables name no live owner"
	}
}
