package engine

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/rpc/dcerpc"
	"github.com/whobinds/whobinds/internal/rpc/oncrpc"
)

// rpcTimeout bounds each local endpoint-map lookup of a collection: a
// silent service on 111 or 135 must not stall the listing.
const rpcTimeout = 750 * time.Millisecond

// The well-known ports of the endpoint maps.
const (
	portRPCBind = 111 // ONC RPC portmapper / rpcbind
	portEPM     = 135 // DCE/RPC endpoint mapper
)

// RPCMaps are this host's endpoint maps, asked once per collection.
type RPCMaps struct {
	DCE     []dcerpc.Entry
	DCEAddr string
	DCEErr  error
	ONC     []oncrpc.Mapping
	ONCAddr string
	ONCErr  error
}

// LocalRPCMaps asks the endpoint mapper on port 135 and rpcbind on port 111
// of this host (the network namespace whobinds runs in), one after the
// other: a host without them costs one refused connection each, which is
// cheaper than starting goroutines for them.
func LocalRPCMaps(ctx context.Context, timeout time.Duration) *RPCMaps {
	m := &RPCMaps{
		DCEAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(portEPM)),
		ONCAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(portRPCBind)),
	}
	c, cancel := context.WithTimeout(ctx, timeout)
	m.DCE, m.DCEErr = dcerpc.Lookup(c, m.DCEAddr, dcerpc.Limits{})
	cancel()
	c, cancel = context.WithTimeout(ctx, timeout)
	m.ONC, m.ONCErr = oncrpc.Dump(c, m.ONCAddr, oncrpc.Options{})
	cancel()
	return m
}

// couldBeRPC reports whether a socket of snap may be an RPC endpoint that
// this host's maps describe: a listener in the namespace whobinds asks.
func couldBeRPC(snap *model.Snapshot, s *model.Socket) bool {
	return s.IsListener() && s.NetNS.Inode == snap.Host.NetNS.Inode
}

// joinRPC adds an rpc-interface attribution to every socket whose port an
// endpoint map of this host lists. The maps are asked only when some
// socket could be an endpoint, and not at all when the snapshot holds
// every TCP listener of this namespace (no targets) and none is a mapper.
func joinRPC(ctx context.Context, snap *model.Snapshot, q Query, ask func(context.Context) *RPCMaps) {
	if !slices.ContainsFunc(snap.Sockets, func(s model.Socket) bool { return couldBeRPC(snap, &s) }) {
		return
	}
	if sawAllTCPListeners(q) && !slices.ContainsFunc(snap.Sockets, func(s model.Socket) bool {
		return s.Proto == model.TCP && (s.Local.Port() == portEPM || s.Local.Port() == portRPCBind) && couldBeRPC(snap, &s)
	}) {
		return
	}
	maps := ask(ctx)
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if !couldBeRPC(snap, s) {
			continue
		}
		if a, ok := dceAttribution(maps, s); ok {
			s.Attributions = append(s.Attributions, a)
		}
		if a, ok := oncAttribution(maps, s); ok {
			s.Attributions = append(s.Attributions, a)
		}
	}
	// A mapper that listens but did not answer is worth a warning; one
	// that is not there is not.
	for _, w := range []struct {
		port uint16
		addr string
		err  error
	}{{portEPM, maps.DCEAddr, maps.DCEErr}, {portRPCBind, maps.ONCAddr, maps.ONCErr}} {
		if w.err != nil && slices.ContainsFunc(snap.Sockets, func(s model.Socket) bool {
			return s.Proto == model.TCP && s.Local.Port() == w.port && couldBeRPC(snap, &s)
		}) {
			snap.Warnings = append(snap.Warnings, fmt.Sprintf("asking the RPC endpoint map on %s: %v", w.addr, w.err))
		}
	}
}

// sawAllTCPListeners reports whether a collection for q lists every TCP
// listener of whobinds' namespace, so a mapper on 111 or 135 would be in
// it. Owner filters are applied after the join.
func sawAllTCPListeners(q Query) bool {
	return len(q.Targets) == 0 && (q.TCP || !q.UDP) && !q.IPv4 && !q.IPv6
}

func holderPID(s *model.Socket) int {
	if len(s.Holders) > 0 {
		return s.Holders[0].PID
	}
	return 0
}

// dceAttribution names the DCE/RPC interfaces registered on s's port.
func dceAttribution(m *RPCMaps, s *model.Socket) (model.Attribution, bool) {
	var names []string
	for _, e := range m.DCE {
		if e.Port != s.Local.Port() || e.Port == 0 || DCEProto(e.Protocol) != s.Proto {
			continue
		}
		n := e.Name()
		if n == "" {
			n = e.Interface + " v" + e.Version
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return model.Attribution{}, false
	}
	list := strings.Join(names, ", ")
	return model.Attribution{
		Kind: model.AttrRPC, PID: holderPID(s), Name: list, Manager: "dce-rpc",
		Detail:   "DCE/RPC interfaces registered on this port: " + list,
		Evidence: "endpoint mapper on " + m.DCEAddr + " (ept_lookup)",
	}, true
}

// DCEProto is the transport of a DCE/RPC protocol sequence, 0 for one
// that is not TCP or UDP (named pipes, LRPC).
func DCEProto(p string) model.Proto {
	switch p {
	case "ncacn_ip_tcp", "ncacn_http":
		return model.TCP
	case "ncadg_ip_udp":
		return model.UDP
	}
	return 0
}

// oncAttribution names the ONC RPC programs registered on s's port,
// "status (100024) v1, mountd (100005) v1-v3".
func oncAttribution(m *RPCMaps, s *model.Socket) (model.Attribution, bool) {
	vers := map[uint32][]uint32{}
	for _, mp := range m.ONC {
		if mp.Port != s.Local.Port() || mp.Port == 0 || ONCProto(mp.Netid) != s.Proto {
			continue
		}
		if !slices.Contains(vers[mp.Program], mp.Version) {
			vers[mp.Program] = append(vers[mp.Program], mp.Version)
		}
	}
	if len(vers) == 0 {
		return model.Attribution{}, false
	}
	progs := make([]uint32, 0, len(vers))
	for p := range vers {
		progs = append(progs, p)
	}
	slices.SortFunc(progs, func(a, b uint32) int { return cmp.Compare(a, b) })
	var parts []string
	for _, p := range progs {
		name := oncrpc.Mapping{Program: p}.Name()
		if name == "" {
			name = "program"
		}
		parts = append(parts, fmt.Sprintf("%s (%d) %s", name, p, versionList(vers[p])))
	}
	list := strings.Join(parts, ", ")
	return model.Attribution{
		Kind: model.AttrRPC, PID: holderPID(s), Name: list, Manager: "onc-rpc",
		Detail:   "ONC RPC programs registered on this port: " + list,
		Evidence: "rpcbind on " + m.ONCAddr + " (dump)",
	}, true
}

// ONCProto is the transport of an rpcbind netid, 0 for a local one.
func ONCProto(netid string) model.Proto {
	switch netid {
	case "tcp", "tcp6":
		return model.TCP
	case "udp", "udp6":
		return model.UDP
	}
	return 0
}

// versionList is "v1", "v1-v3" or "v1, v3-v4".
func versionList(vs []uint32) string {
	slices.Sort(vs)
	var out []string
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		if i == j {
			out = append(out, fmt.Sprintf("v%d", vs[i]))
		} else {
			out = append(out, fmt.Sprintf("v%d-v%d", vs[i], vs[j]))
		}
		i = j + 1
	}
	return strings.Join(out, ", ")
}
