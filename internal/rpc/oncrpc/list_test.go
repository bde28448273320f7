package oncrpc

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodePmapList(t *testing.T) {
	wire := []byte{
		0, 0, 0, 1, // TRUE
		0, 1, 0x86, 0xa0, 0, 0, 0, 2, 0, 0, 0, 6, 0, 0, 0, 111, // 100000 v2 tcp 111
		0, 0, 0, 1,
		0, 1, 0x86, 0xb8, 0, 0, 0, 1, 0, 0, 0, 17, 0, 0, 0x89, 0x85, // 100024 v1 udp 35205
		0, 0, 0, 1,
		0, 1, 0x86, 0xa3, 0, 0, 0, 3, 0, 0, 0, 132, 0, 0, 8, 1, // 100003 v3 SCTP 2049
		0, 0, 0, 1,
		0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 6, 0, 1, 0, 0, // port 65536: out of range
		0, 0, 0, 0, // FALSE
	}
	want := []Mapping{
		{Program: 100000, Version: 2, Netid: "tcp", Port: 111},
		{Program: 100024, Version: 1, Netid: "udp", Port: 35205},
		{Program: 100003, Version: 3, Netid: "proto-132", Port: 2049},
		{Program: 1, Version: 1, Netid: "tcp", Port: 0},
	}
	got, err := decodePmapList(wire, 10)
	if err != nil {
		t.Fatalf("decodePmapList = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decodePmapList (-want +got):\n%s", diff)
	}
	if back := appendPmapList(nil, want[:3]); !bytes.Equal(back, append(wire[:3*20:3*20], 0, 0, 0, 0)) {
		t.Errorf("appendPmapList = % x; want the first three entries of % x", back, wire)
	}
}

func TestDecodeRpcbList(t *testing.T) {
	wire := []byte{
		0, 0, 0, 1,
		0, 1, 0x86, 0xa0, 0, 0, 0, 4,
		0, 0, 0, 4, 't', 'c', 'p', '6',
		0, 0, 0, 8, ':', ':', '.', '0', '.', '1', '1', '1',
		0, 0, 0, 9, 's', 'u', 'p', 'e', 'r', 'u', 's', 'e', 'r', 0, 0, 0,
		0, 0, 0, 1,
		0, 1, 0x86, 0xb8, 0, 0, 0, 1,
		0, 0, 0, 3, 'u', 'd', 'p', 0,
		0, 0, 0, 15, '0', '.', '0', '.', '0', '.', '0', '.', '1', '3', '7', '.', '1', '3', '3', 0,
		0, 0, 0, 4, '1', '0', '0', '0',
		0, 0, 0, 1,
		0, 1, 0x86, 0xa0, 0, 0, 0, 3,
		0, 0, 0, 5, 'l', 'o', 'c', 'a', 'l', 0, 0, 0,
		0, 0, 0, 17, '/', 'r', 'u', 'n', '/', 'r', 'p', 'c', 'b', 'i', 'n', 'd', '.', 's', 'o', 'c', 'k', 0, 0, 0,
		0, 0, 0, 0,
		0, 0, 0, 0,
	}
	want := []Mapping{
		{Program: 100000, Version: 4, Netid: "tcp6", Addr: "::.0.111", Port: 111, Owner: "superuser"},
		{Program: 100024, Version: 1, Netid: "udp", Addr: "0.0.0.0.137.133", Port: 35205, Owner: "1000"},
		{Program: 100000, Version: 3, Netid: "local", Addr: "/run/rpcbind.sock", Owner: ""},
	}
	got, err := decodeRpcbList(wire, 10)
	if err != nil {
		t.Fatalf("decodeRpcbList = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decodeRpcbList (-want +got):\n%s", diff)
	}
	if back := appendRpcbList(nil, want); !bytes.Equal(back, wire) {
		t.Errorf("appendRpcbList =\n% x; want\n% x", back, wire)
	}
}

func TestDecodeRpcbListPorts(t *testing.T) {
	tests := []struct {
		netid, addr string
		want        uint16
	}{
		{"tcp", "0.0.0.0.8.1", 2049},
		{"udp6", "::1.3.47", 815},
		{"rdma", "10.0.0.1.78.80", 20048},
		{"tcp", "garbage", 0},
		{"tcp", "", 0},
		{"local", "1.2.3.4.0.111", 0}, // a path that looks like an address
		{"unix", "/var/run/rpcbind.sock", 0},
	}
	for _, tt := range tests {
		t.Run(tt.netid+" "+tt.addr, func(t *testing.T) {
			wire := appendRpcbList(nil, []Mapping{{Program: 1, Version: 1, Netid: tt.netid, Addr: tt.addr}})
			got, err := decodeRpcbList(wire, 1)
			if err != nil || len(got) != 1 || got[0].Port != tt.want {
				t.Errorf("decodeRpcbList(%s %q) = %+v, %v; want port %d", tt.netid, tt.addr, got, err, tt.want)
			}
		})
	}
}

func TestDecodeListErrors(t *testing.T) {
	entries := func(n int) []Mapping {
		ms := make([]Mapping, n)
		for i := range ms {
			ms[i] = Mapping{Program: uint32(i), Version: 1, Netid: "tcp", Addr: "0.0.0.0.0.1", Owner: "superuser", Port: 1}
		}
		return ms
	}
	pmap := appendPmapList(nil, entries(3))
	rpcb := appendRpcbList(nil, entries(3))
	tests := []struct {
		name   string
		decode func([]byte, int) ([]Mapping, error)
		wire   []byte
		max    int
		want   error
	}{
		{"pmap empty input", decodePmapList, nil, 10, io.ErrUnexpectedEOF},
		{"pmap no terminator", decodePmapList, pmap[:len(pmap)-4], 10, io.ErrUnexpectedEOF},
		{"pmap entry cut", decodePmapList, pmap[:30], 10, io.ErrUnexpectedEOF},
		{"pmap bool 2", decodePmapList, []byte{0, 0, 0, 2}, 10, nil},
		{"pmap over max", decodePmapList, pmap, 2, ErrLimit},
		{"rpcb no terminator", decodeRpcbList, rpcb[:len(rpcb)-4], 10, io.ErrUnexpectedEOF},
		{"rpcb string cut", decodeRpcbList, rpcb[:20], 10, io.ErrUnexpectedEOF},
		{"rpcb string of 4 GiB", decodeRpcbList, []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff}, 10, nil},
		{"rpcb over max", decodeRpcbList, rpcb, 2, ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.decode(tt.wire, tt.max)
			if err == nil {
				t.Fatalf("decoding % x = %+v, nil; want an error", tt.wire, got)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("decoding % x = %v; want %v", tt.wire, err, tt.want)
			}
			if tt.want != ErrLimit && errors.Is(err, ErrLimit) {
				t.Errorf("decoding % x = %v; want no ErrLimit", tt.wire, err)
			}
		})
	}
	// At the limit exactly is fine.
	if got, err := decodeRpcbList(rpcb, 3); err != nil || len(got) != 3 {
		t.Errorf("decodeRpcbList(3 entries, max 3) = %d entries, %v; want 3, nil", len(got), err)
	}
}

func TestMappingName(t *testing.T) {
	tests := []struct {
		prog uint32
		want string
	}{
		{100000, "portmapper"},
		{100003, "nfs"},
		{100005, "mountd"},
		{100021, "nlockmgr"},
		{100024, "status"},
		{399999, ""},
	}
	for _, tt := range tests {
		if got := (Mapping{Program: tt.prog}).Name(); got != tt.want {
			t.Errorf("Mapping{Program: %d}.Name() = %q; want %q", tt.prog, got, tt.want)
		}
	}
}
