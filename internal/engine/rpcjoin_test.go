package engine

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/rpc/dcerpc"
	"github.com/whobinds/whobinds/internal/rpc/oncrpc"
	"github.com/whobinds/whobinds/internal/target"
)

func TestVersionList(t *testing.T) {
	for _, tt := range []struct {
		in   []uint32
		want string
	}{
		{[]uint32{1}, "v1"},
		{[]uint32{3, 1, 2}, "v1-v3"},
		{[]uint32{4, 1, 3}, "v1, v3-v4"},
	} {
		if got := versionList(tt.in); got != tt.want {
			t.Errorf("versionList(%v) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestJoinRPC joins recorded maps (the clients are tested against real
// Samba and rpcbind in their packages) to sockets: by protocol and port,
// only in whobinds' own namespace, and asking the maps once.
func TestJoinRPC(t *testing.T) {
	host := model.NetNS{Inode: 1, Name: "host"}
	sock := func(p model.Proto, ap string, ns model.NetNS) model.Socket {
		st := model.Listen
		if p == model.UDP {
			st = model.Close
		}
		return model.Socket{Proto: p, Local: netip.MustParseAddrPort(ap), State: st, NetNS: ns,
			Holders: []model.Holder{{PID: 900}}}
	}
	snap := &model.Snapshot{Host: model.Host{NetNS: host}, Sockets: []model.Socket{
		sock(model.TCP, "0.0.0.0:20048", host),
		sock(model.UDP, "0.0.0.0:47832", host),
		sock(model.TCP, "0.0.0.0:47832", host), // same port, protocol not registered
		sock(model.TCP, "0.0.0.0:49668", host),
		sock(model.TCP, "0.0.0.0:20048", model.NetNS{Inode: 2, Name: "other"}),
	}}
	maps := &RPCMaps{
		ONCAddr: "127.0.0.1:111",
		ONC: []oncrpc.Mapping{
			{Program: 100005, Version: 1, Netid: "tcp", Port: 20048},
			{Program: 100005, Version: 3, Netid: "tcp6", Port: 20048},
			{Program: 100005, Version: 2, Netid: "tcp", Port: 20048},
			{Program: 100024, Version: 1, Netid: "udp", Port: 47832},
		},
		DCEAddr: "127.0.0.1:135",
		DCE: []dcerpc.Entry{
			{Interface: "12345678-1234-abcd-ef00-01234567cffb", Version: "1.0", Protocol: "ncacn_ip_tcp", Port: 49668, Endpoint: "49668"},
			{Interface: "12345778-1234-abcd-ef00-0123456789ac", Version: "1.0", Protocol: "ncacn_ip_tcp", Port: 49668, Endpoint: "49668"},
			{Interface: "12345778-1234-abcd-ef00-0123456789ac", Version: "1.0", Protocol: "ncacn_np", Endpoint: `\pipe\lsass`},
		},
		DCEErr: errors.New("refused"),
	}
	asked := 0
	joinRPC(context.Background(), snap, Query{Targets: []target.Target{{Lo: 1, Hi: 65535}}}, func(context.Context) *RPCMaps { asked++; return maps })
	if asked != 1 {
		t.Errorf("maps asked %d times; want once", asked)
	}
	names := func(s model.Socket) []string {
		var out []string
		for _, a := range s.Attributions {
			out = append(out, a.Name)
		}
		return out
	}
	mountd, status := oncName(100005), oncName(100024)
	want := [][]string{
		{mountd + " (100005) v1-v3"},
		{status + " (100024) v1"},
		nil,
		{dceName(maps.DCE[0]) + ", " + dceName(maps.DCE[1])},
		nil,
	}
	for i, s := range snap.Sockets {
		if diff := cmp.Diff(want[i], names(s)); diff != "" {
			t.Errorf("socket %d (%s %v) attributions (-want +got):\n%s", i, s.Proto, s.Local, diff)
		}
	}
	if len(snap.Warnings) != 0 {
		t.Errorf("warnings = %q; want none (nothing listens on 135 here)", snap.Warnings)
	}
	if a := snap.Sockets[0].Attributions; len(a) == 1 && (a[0].Kind != model.AttrRPC || a[0].PID != 900) {
		t.Errorf("attribution = %+v; want rpc-interface of PID 900", a[0])
	}

	// A full listing without a listener on 111 or 135: no mapper to ask.
	asked = 0
	full := &model.Snapshot{Host: model.Host{NetNS: host}, Sockets: []model.Socket{sock(model.TCP, "0.0.0.0:20048", host)}}
	joinRPC(context.Background(), full, Query{}, func(context.Context) *RPCMaps { asked++; return maps })
	if asked != 0 {
		t.Errorf("maps asked %d times for a full listing without 111 or 135; want none", asked)
	}

	// No listener in our namespace: the maps are not asked at all.
	asked = 0
	none := &model.Snapshot{Host: model.Host{NetNS: host}, Sockets: []model.Socket{sock(model.TCP, "0.0.0.0:20048", model.NetNS{Inode: 2})}}
	joinRPC(context.Background(), none, Query{}, func(context.Context) *RPCMaps { asked++; return maps })
	if asked != 0 {
		t.Errorf("maps asked %d times for a snapshot with no local listener; want none", asked)
	}
}

func oncName(p uint32) string { return oncrpc.Mapping{Program: p}.Name() }

func dceName(e dcerpc.Entry) string {
	if n := e.Name(); n != "" {
		return n
	}
	return e.Interface + " v" + e.Version
}
