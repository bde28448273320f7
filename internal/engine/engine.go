// Package engine runs the stages of the pipeline that touch the operating
// system — collect (the kernel's socket table), own (the processes holding
// each socket) and enrich (why they are there) — and returns a Snapshot for
// the pure explain and render stages.
//
// The OS seam is the unexported source interface. engine_linux.go and
// engine_windows.go fill it; on other systems New returns an error wrapping
// ErrNotSupported. The
// exported API is the same everywhere.
package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
)

var (
	// ErrNotSupported means this operating system has no backend yet.
	ErrNotSupported = errors.New("not supported")
	// ErrQuery means the operating system could not be asked for its
	// sockets at all (as opposed to details that degrade a row).
	ErrQuery = errors.New("the operating system could not be queried")
)

// Query says which sockets to collect.
type Query struct {
	// TCP and UDP select protocols; neither means both.
	TCP, UDP bool
	// IPv4 and IPv6 select families; neither means both.
	IPv4, IPv6 bool
	// AllStates includes every state; otherwise only TCP listeners and
	// unconnected (bound) UDP sockets.
	AllStates bool
	// Targets restrict the sockets to those serving one of them.
	Targets []target.Target
	// AllNetNS collects in every network namespace on the host.
	AllNetNS bool
	// PIDs and Users keep only sockets held by one of these processes or
	// users (names or numeric IDs).
	PIDs  []int
	Users []string
	// SocketsOnly skips finding holders and attributions: a cheap check of
	// what the kernel has.
	SocketsOnly bool
	// SkipRPC does not ask this host's RPC endpoint maps (port 135 and
	// 111) which interfaces listen where.
	SkipRPC bool
}

// dumpSpec is one protocol and family to collect.
type dumpSpec struct {
	proto  model.Proto
	family int
}

func (q Query) specs() []dumpSpec {
	tcp, udp := q.TCP || !q.UDP, q.UDP || !q.TCP
	v4, v6 := q.IPv4 || !q.IPv6, q.IPv6 || !q.IPv4
	var out []dumpSpec
	for _, p := range []struct {
		on    bool
		proto model.Proto
	}{{tcp, model.TCP}, {udp, model.UDP}} {
		if !p.on {
			continue
		}
		if v4 {
			out = append(out, dumpSpec{p.proto, 4})
		}
		if v6 {
			out = append(out, dumpSpec{p.proto, 6})
		}
	}
	return out
}

// Options configure an Engine. The zero value reads the live system.
type Options struct {
	// Proc is the procfs mount, "/proc" by default.
	Proc string
	// Root is the filesystem root for configuration and metadata (unit
	// files, container metadata, /etc/passwd), "/" by default.
	Root string
	// Workers bounds the parallel process walk; 0 picks by CPU count.
	Workers int
}

// source is what an operating system backend provides.
type source interface {
	collect(ctx context.Context, q Query) (*model.Snapshot, error)
	firewall(ctx context.Context) (Firewall, error)
	close() error
}

// Firewall judges what the host firewall does with new inbound traffic
// from another host to a socket. It was read once; judging is cheap.
type Firewall func(s *model.Socket) model.FirewallVerdict

// Firewall reads the host firewall. The error says why it cannot be read
// (it wraps ErrNotSupported on systems without a reader).
func (e *Engine) Firewall(ctx context.Context) (Firewall, error) { return e.src.firewall(ctx) }

// newSource is set by the backend file of the running OS; nil means the OS
// is not supported.
var newSource func(Options) (source, error)

// Engine collects snapshots. It may keep state between collections to make
// repeated ones cheaper; it is not safe for concurrent use.
type Engine struct {
	src source
	// rpc asks this host's endpoint maps; a field so tests can count it.
	rpc func(context.Context) *RPCMaps
}

// New returns an Engine for the running operating system.
func New(opt Options) (*Engine, error) {
	if opt.Proc == "" {
		opt.Proc = "/proc"
	}
	if opt.Root == "" {
		opt.Root = "/"
	}
	if newSource == nil {
		return nil, fmt.Errorf("listing sockets on %s: %w yet", runtime.GOOS, ErrNotSupported)
	}
	src, err := newSource(opt)
	if err != nil {
		return nil, err
	}
	rpc := func(ctx context.Context) *RPCMaps { return LocalRPCMaps(ctx, rpcTimeout) }
	return &Engine{src: src, rpc: rpc}, nil
}

// Collect takes a snapshot of the sockets selected by q, with their
// holders and attributions. It fails only when the sockets themselves
// cannot be listed; missing details degrade the rows and are reported in
// Snapshot.Hidden and Snapshot.Warnings.
func (e *Engine) Collect(ctx context.Context, q Query) (*model.Snapshot, error) {
	s, err := e.src.collect(ctx, q)
	if err != nil {
		return nil, err
	}
	if !q.SocketsOnly && !q.SkipRPC {
		joinRPC(ctx, s, q, e.rpc)
	}
	s.Sockets = slices.DeleteFunc(s.Sockets, func(sk model.Socket) bool { return !keepOwner(&sk, q) })
	Sort(s.Sockets)
	return s, nil
}

// Close releases what the engine keeps open.
func (e *Engine) Close() error { return e.src.close() }

// Sort orders sockets for display: TCP before UDP, then by port, address,
// namespace and inode.
func Sort(socks []model.Socket) {
	slices.SortFunc(socks, func(a, b model.Socket) int {
		return cmp.Or(
			cmp.Compare(a.Proto, b.Proto),
			cmp.Compare(a.Local.Port(), b.Local.Port()),
			a.Local.Addr().Compare(b.Local.Addr()),
			cmp.Compare(b.State, a.State), // LISTEN (10) before ESTAB (1)
			a.Remote.Compare(b.Remote),
			cmp.Compare(a.NetNS.Inode, b.NetNS.Inode),
			cmp.Compare(a.Inode, b.Inode),
		)
	})
}

// keepOwner applies the --pid and --user filters.
func keepOwner(s *model.Socket, q Query) bool {
	if len(q.PIDs) == 0 && len(q.Users) == 0 {
		return true
	}
	for _, h := range s.Holders {
		if len(q.PIDs) > 0 && !slices.Contains(q.PIDs, h.PID) {
			continue
		}
		if len(q.Users) > 0 && (h.Process == nil || !userMatches(q.Users, h.Process.User, h.Process.UID)) {
			continue
		}
		return true
	}
	// A socket with no visible holder matches --user by the socket's own
	// UID (the user that created it); --pid cannot match it.
	return len(s.Holders) == 0 && len(q.PIDs) == 0 && userMatches(q.Users, "", s.UID)
}

func userMatches(users []string, name string, uid uint32) bool {
	for _, u := range users {
		if (name != "" && u == name) || u == strconv.FormatUint(uint64(uid), 10) {
			return true
		}
		// Windows names users DOMAIN\user; the bare user name matches too.
		if i := strings.LastIndexByte(name, '\\'); i >= 0 && strings.EqualFold(u, name[i+1:]) {
			return true
		}
	}
	return false
}

// ListenStates is the default state filter: TCP listeners and bound UDP
// sockets.
func ListenStates(p model.Proto) model.StateMask {
	if p == model.UDP {
		return 1 << model.Close
	}
	return 1 << model.Listen
}
