package sockdiag

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/whobinds/whobinds/internal/model"
)

// cmpAddrs lets go-cmp compare netip values.
var cmpAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

// rawMsg builds an inet_diag_msg byte by byte at the offsets of
// include/uapi/linux/inet_diag.h, independently of Message.AppendBinary.
type rawMsg struct {
	family, state, timer, retrans uint8
	sport, dport                  uint16
	src, dst                      []byte // 4 or 16 bytes
	ifindex, cookie0, cookie1     uint32
	expires, rq, wq, uid, inode   uint32
	attrs                         []byte
}

func (r rawMsg) bytes() []byte {
	b := make([]byte, 72)
	b[0], b[1], b[2], b[3] = r.family, r.state, r.timer, r.retrans
	binary.BigEndian.PutUint16(b[4:], r.sport)
	binary.BigEndian.PutUint16(b[6:], r.dport)
	copy(b[8:24], r.src)
	copy(b[24:40], r.dst)
	ne.PutUint32(b[40:], r.ifindex)
	ne.PutUint32(b[44:], r.cookie0)
	ne.PutUint32(b[48:], r.cookie1)
	ne.PutUint32(b[52:], r.expires)
	ne.PutUint32(b[56:], r.rq)
	ne.PutUint32(b[60:], r.wq)
	ne.PutUint32(b[64:], r.uid)
	ne.PutUint32(b[68:], r.inode)
	return append(b, r.attrs...)
}

// attr builds one nlattr; pad says whether to add the alignment padding.
func attr(typ uint16, data []byte, pad bool) []byte {
	b := ne.AppendUint16(nil, uint16(4+len(data)))
	b = ne.AppendUint16(b, typ)
	b = append(b, data...)
	for pad && len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func u64(v uint64) []byte { return ne.AppendUint64(nil, v) }

var (
	v6Loopback = netip.MustParseAddr("::1").AsSlice()
	v6Mapped   = netip.MustParseAddr("::ffff:10.1.2.3").AsSlice()
	v6Peer     = netip.MustParseAddr("2001:db8::7").AsSlice()
)

func TestMessageUnmarshal(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want Message
	}{
		{
			name: "tcp4 listener with shutdown and cgroup",
			b: rawMsg{
				family: AFInet, state: 10, sport: 8080,
				src: []byte{127, 0, 0, 1}, dst: []byte{0, 0, 0, 0},
				cookie0: 0x11223344, cookie1: 0x55667788,
				rq: 1, wq: 4096, uid: 1000, inode: 424242,
				attrs: cat(attr(inetDiagShutdown, []byte{0}, true), attr(inetDiagCgroupID, u64(9876), true)),
			}.bytes(),
			want: Message{
				Family: AFInet, State: 10,
				ID: SockID{
					SrcPort: 8080,
					Src:     netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("0.0.0.0"),
					Cookie: 0x5566778811223344,
				},
				RQueue: 1, WQueue: 4096, UID: 1000, Inode: 424242,
				HasShutdown: true, CgroupID: 9876,
			},
		},
		{
			name: "tcp6 v6only listener",
			b: rawMsg{
				family: AFInet6, state: 10, sport: 443, src: v6Loopback, dst: make([]byte, 16),
				ifindex: 1, inode: 7,
				attrs: cat(attr(inetDiagShutdown, []byte{0}, true), attr(inetDiagSkV6Only, []byte{1}, true)),
			}.bytes(),
			want: Message{
				Family: AFInet6, State: 10,
				ID:    SockID{SrcPort: 443, Src: netip.IPv6Loopback(), Dst: netip.IPv6Unspecified(), IfIndex: 1},
				Inode: 7, HasShutdown: true, V6Only: model.Yes,
			},
		},
		{
			name: "tcp6 established v4-mapped, attributes unpadded, unknown and flagged ones",
			b: rawMsg{
				family: AFInet6, state: 1, timer: 2, retrans: 3, sport: 50000, dport: 22,
				src: v6Mapped, dst: v6Peer, expires: 7200000, rq: 5, wq: 6, uid: 65534, inode: 99,
				attrs: cat(
					attr(15, []byte{1, 2, 3, 4}, true),             // INET_DIAG_MARK
					attr(14, nil, true),                            // INET_DIAG_PAD
					attr(inetDiagShutdown|0x8000, []byte{3}, true), // with NLA_F_NESTED set
					attr(inetDiagSkV6Only, []byte{0}, true),        // not sent by the kernel here, but decodable
					attr(inetDiagCgroupID, u64(1<<40), false),      // last: no padding needed
				),
			}.bytes(),
			want: Message{
				Family: AFInet6, State: 1, Timer: 2, Retrans: 3,
				ID: SockID{
					SrcPort: 50000, DstPort: 22,
					Src: netip.MustParseAddr("::ffff:10.1.2.3"), Dst: netip.MustParseAddr("2001:db8::7"),
				},
				Expires: 7200000, RQueue: 5, WQueue: 6, UID: 65534, Inode: 99,
				Shutdown: 3, HasShutdown: true, V6Only: model.No, CgroupID: 1 << 40,
			},
		},
		{
			name: "udp4 with a final unpadded one-byte attribute",
			b: rawMsg{
				family: AFInet, state: 7, sport: 53, src: []byte{10, 0, 0, 1}, dst: []byte{0, 0, 0, 0},
				attrs: attr(inetDiagShutdown, []byte{0}, false),
			}.bytes(),
			want: Message{
				Family: AFInet, State: 7,
				ID:          SockID{SrcPort: 53, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.IPv4Unspecified()},
				HasShutdown: true,
			},
		},
		{
			name: "AF_INET ignores the unused address words",
			b: rawMsg{
				family: AFInet, state: 1,
				src: []byte{1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff}, dst: []byte{5, 6, 7, 8, 0xee},
			}.bytes(),
			want: Message{
				Family: AFInet, State: 1,
				ID: SockID{Src: netip.MustParseAddr("1.2.3.4"), Dst: netip.MustParseAddr("5.6.7.8")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from garbage: UnmarshalBinary must replace every field.
			got := Message{State: 99, V6Only: model.Yes, CgroupID: 5, HasShutdown: true, Shutdown: 9}
			if err := got.UnmarshalBinary(tt.b); err != nil {
				t.Fatalf("UnmarshalBinary = %v; want nil", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddrs); diff != "" {
				t.Errorf("UnmarshalBinary mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMessageUnmarshalErrors(t *testing.T) {
	v4 := rawMsg{family: AFInet, src: []byte{127, 0, 0, 1}}.bytes()
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "0 bytes, want at least 72"},
		{"one byte short", v4[:71], "71 bytes, want at least 72"},
		{"family 0", rawMsg{family: 0}.bytes(), "unsupported address family 0"},
		{"family AF_UNIX", rawMsg{family: 1}.bytes(), "unsupported address family 1"},
		{"stray bytes", cat(v4, []byte{8, 0}), "2 stray bytes at offset 72"},
		{"attribute length below its header", cat(v4, []byte{3, 0, 8, 0}), "length 3"},
		{"attribute length past the end", cat(v4, []byte{9, 0, 8, 0, 1, 0, 0, 0}), "length 9, 8 bytes left"},
		{"attribute length 0", cat(v4, []byte{0, 0, 0, 0}), "length 0"},
		{"empty shutdown", cat(v4, attr(inetDiagShutdown, nil, true)), "INET_DIAG_SHUTDOWN at offset 72: empty"},
		{"empty v6only", cat(v4, attr(inetDiagSkV6Only, nil, true)), "INET_DIAG_SKV6ONLY at offset 72: empty"},
		{"short cgroup", cat(v4, attr(inetDiagShutdown, []byte{0}, true), attr(inetDiagCgroupID, []byte{1, 2, 3, 4}, true)), "INET_DIAG_CGROUP_ID at offset 80: 4 bytes, want 8"},
	}
	// The attribute lengths in the table are little endian.
	if ne.Uint16([]byte{1, 0}) != 1 {
		t.Skip("table written for a little-endian host")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := m.UnmarshalBinary(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("UnmarshalBinary(% x) = %v; want an error containing %q", tt.b, err, tt.want)
			}
		})
	}
	var m Message
	if err := m.UnmarshalBinary(v4[:10]); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("UnmarshalBinary(10 bytes) = %v; want io.ErrUnexpectedEOF", err)
	}
}

func TestMessageAppendBinary(t *testing.T) {
	m := Message{
		Family: AFInet6, State: 10, Timer: 1, Retrans: 2,
		ID: SockID{
			SrcPort: 8443, DstPort: 0, Src: netip.MustParseAddr("::ffff:127.0.0.1"), Dst: netip.IPv6Unspecified(),
			IfIndex: 3, Cookie: 0x0102030405060708,
		},
		Expires: 1, RQueue: 2, WQueue: 3, UID: 4, Inode: 5,
		V6Only: model.No, Shutdown: 2, HasShutdown: true, CgroupID: 77,
	}
	got, err := m.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary = %v", err)
	}
	want := rawMsg{
		family: AFInet6, state: 10, timer: 1, retrans: 2, sport: 8443,
		src: v6MappedLoopback(), dst: make([]byte, 16), ifindex: 3, cookie0: 0x05060708, cookie1: 0x01020304,
		expires: 1, rq: 2, wq: 3, uid: 4, inode: 5,
		attrs: cat(attr(inetDiagShutdown, []byte{2}, true), attr(inetDiagSkV6Only, []byte{0}, true), attr(inetDiagCgroupID, u64(77), true)),
	}.bytes()
	if !bytes.Equal(got, want) {
		t.Errorf("MarshalBinary() =\n% x\nwant\n% x", got, want)
	}

	for _, bad := range []Message{
		{Family: 0},
		{Family: AFInet, ID: SockID{Src: netip.IPv6Loopback()}},
		{Family: AFInet6, ID: SockID{Dst: netip.MustParseAddr("127.0.0.1")}},
	} {
		if b, err := bad.AppendBinary([]byte{1, 2}); err == nil || !bytes.Equal(b, []byte{1, 2}) {
			t.Errorf("AppendBinary(%+v) = % x, %v; want the input back and an error", bad, b, err)
		}
	}
}

func v6MappedLoopback() []byte { return netip.MustParseAddr("::ffff:127.0.0.1").AsSlice() }

func TestMessageSocket(t *testing.T) {
	tests := []struct {
		name  string
		m     Message
		proto model.Proto
		want  model.Socket
	}{
		{
			name:  "v4 listener: IPv4 local, no remote, no V6Only",
			proto: model.TCP,
			m: Message{
				Family: AFInet, State: 10, ID: SockID{SrcPort: 80, Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.IPv4Unspecified()},
				RQueue: 1, WQueue: 128, UID: 33, Inode: 1234, V6Only: model.Yes, // a lying attribute is ignored for AF_INET
			},
			want: model.Socket{
				Proto: model.TCP, Local: netip.MustParseAddrPort("127.0.0.1:80"), State: model.Listen,
				Inode: 1234, UID: 33, RecvQ: 1, SendQ: 128,
			},
		},
		{
			name:  "v6 dual-stack listener",
			proto: model.TCP,
			m: Message{
				Family: AFInet6, State: 10, ID: SockID{SrcPort: 22, Src: netip.IPv6Unspecified(), Dst: netip.IPv6Unspecified(), IfIndex: 2},
				Inode: 5, V6Only: model.No,
			},
			want: model.Socket{
				Proto: model.TCP, Local: netip.MustParseAddrPort("[::]:22"), State: model.Listen,
				Inode: 5, V6Only: model.No, IfIndex: 2,
			},
		},
		{
			name:  "v6 established to a v4-mapped peer keeps the mapping",
			proto: model.TCP,
			m: Message{
				Family: AFInet6, State: 1,
				ID: SockID{
					SrcPort: 22, DstPort: 40000,
					Src: netip.MustParseAddr("::ffff:127.0.0.1"), Dst: netip.MustParseAddr("::ffff:127.0.0.2"),
				},
				RQueue: 10, WQueue: 20, Inode: 6,
			},
			want: model.Socket{
				Proto: model.TCP, Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:22"),
				Remote: netip.MustParseAddrPort("[::ffff:127.0.0.2]:40000"), State: model.Established,
				Inode: 6, RecvQ: 10, SendQ: 20,
			},
		},
		{
			name:  "udp connected to port 0 of a real address keeps the remote",
			proto: model.UDP,
			m: Message{
				Family: AFInet, State: 1,
				ID: SockID{SrcPort: 5353, Src: netip.IPv4Unspecified(), Dst: netip.MustParseAddr("10.0.0.9")},
			},
			want: model.Socket{
				Proto: model.UDP, Local: netip.MustParseAddrPort("0.0.0.0:5353"),
				Remote: netip.MustParseAddrPort("10.0.0.9:0"), State: model.Established,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.m.Socket(tt.proto)
			if diff := cmp.Diff(tt.want, got, cmpAddrs); diff != "" {
				t.Errorf("Socket mismatch (-want +got):\n%s", diff)
			}
			if tt.m.Family == AFInet && !got.Local.Addr().Is4() {
				t.Errorf("Socket().Local = %v; want an IPv4 address", got.Local)
			}
		})
	}
}

func TestRequestMarshal(t *testing.T) {
	bc := []byte{2, 8, 12, 0, 0, 0, 80, 0}
	r := Request{
		Family: AFInet6, Protocol: ipprotoTCP, Ext: 0x80, States: 1 << 10,
		ID:       SockID{SrcPort: 0x1234, Src: netip.IPv6Loopback(), Cookie: 0xFFFFFFFF_FFFFFFFF},
		Bytecode: bc,
	}
	got, err := r.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary = %v", err)
	}
	want := []byte{AFInet6, 6, 0x80, 0}
	want = ne.AppendUint32(want, 1<<10)
	want = append(want, 0x12, 0x34, 0, 0)
	want = append(want, v6Loopback...)
	want = append(want, make([]byte, 16)...)
	want = append(want, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	want = append(want, attr(inetDiagReqBytecode, bc, true)...)
	if !bytes.Equal(got, want) {
		t.Errorf("MarshalBinary() =\n% x\nwant\n% x", got, want)
	}
	if len(got) != reqLen+4+len(bc) {
		t.Errorf("len(MarshalBinary()) = %d; want %d", len(got), reqLen+4+len(bc))
	}

	for _, bad := range []Request{
		{Family: 0},
		{Family: AFInet, ID: SockID{Src: netip.IPv6Loopback()}},
		{Family: AFInet, Bytecode: make([]byte, 65532)},
	} {
		if _, err := bad.MarshalBinary(); err == nil {
			t.Errorf("MarshalBinary(%v) = nil error; want one", bad.Family)
		}
	}
}

func TestAppendDumpRequest(t *testing.T) {
	r := Request{Family: AFInet, Protocol: ipprotoUDP, States: 0xffff}
	got, err := appendDumpRequest([]byte("prefix"), 42, &r)
	if err != nil {
		t.Fatalf("appendDumpRequest = %v", err)
	}
	got = got[len("prefix"):]
	want := ne.AppendUint32(nil, 16+56)
	want = ne.AppendUint16(want, 20)
	want = ne.AppendUint16(want, 0x301)
	want = ne.AppendUint32(want, 42)
	want = ne.AppendUint32(want, 0)
	want = append(want, AFInet, 17, 0, 0)
	want = ne.AppendUint32(want, 0xffff)
	want = append(want, make([]byte, 48)...)
	if !bytes.Equal(got, want) {
		t.Errorf("appendDumpRequest() =\n% x\nwant\n% x", got, want)
	}
}

func TestAppendPortFilter(t *testing.T) {
	op := func(code, yes uint8, no uint16) []byte { return appendOp(nil, code, yes, no) }
	tests := []struct {
		name   string
		ranges []PortRange
		want   []byte
	}{
		{"none", nil, nil},
		{
			name:   "one port",
			ranges: []PortRange{{80, 80}},
			want:   cat(op(bcSGE, 8, 20), op(0, 0, 80), op(bcSLE, 8, 12), op(0, 0, 80)),
		},
		{
			name:   "three ranges",
			ranges: []PortRange{{1, 2}, {8000, 8100}, {65535, 65535}},
			want: cat(
				op(bcSGE, 8, 20), op(0, 0, 1), op(bcSLE, 8, 12), op(0, 0, 2), op(bcJmp, 4, 40),
				op(bcSGE, 8, 20), op(0, 0, 8000), op(bcSLE, 8, 12), op(0, 0, 8100), op(bcJmp, 4, 20),
				op(bcSGE, 8, 20), op(0, 0, 65535), op(bcSLE, 8, 12), op(0, 0, 65535),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendPortFilter(nil, tt.ranges)
			if err != nil {
				t.Fatalf("AppendPortFilter(%v) = %v", tt.ranges, err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("AppendPortFilter(%v) =\n% x\nwant\n% x", tt.ranges, got, tt.want)
			}
		})
	}

	for _, bad := range [][]PortRange{{{81, 80}}, make([]PortRange, MaxPortRanges+1)} {
		if b, err := AppendPortFilter([]byte{7}, bad); err == nil || !bytes.Equal(b, []byte{7}) {
			t.Errorf("AppendPortFilter(%d ranges) = % x, %v; want the input back and an error", len(bad), b, err)
		}
	}
	// The largest filter still fits an attribute.
	big, err := AppendPortFilter(nil, make([]PortRange, MaxPortRanges))
	if err != nil {
		t.Fatalf("AppendPortFilter(%d ranges) = %v", MaxPortRanges, err)
	}
	if _, err := (&Request{Family: AFInet, Bytecode: big}).MarshalBinary(); err != nil {
		t.Errorf("Request with %d ranges: MarshalBinary = %v", MaxPortRanges, err)
	}
}

// kernelAudit and kernelRun restate, for port operations only,
// inet_diag_bc_audit and inet_diag_bc_run of net/ipv4/inet_diag.c, so the
// filter's semantics are checked on every platform. The integration test
// checks the same filters against the real kernel.
func kernelAudit(bc []byte) bool {
	validCC := func(cc int) bool {
		for b, l := bc, len(bc); l >= 0; {
			if cc > l {
				return false
			}
			if cc == l {
				return true
			}
			yes := int(b[1])
			if yes < 4 || yes&3 != 0 {
				return false
			}
			l -= yes
			b = b[yes:]
		}
		return false
	}
	if len(bc) < 4 {
		return false
	}
	b, l := bc, len(bc)
	for l > 0 {
		minLen := 4
		code, yes, no := b[0], int(b[1]), int(ne.Uint16(b[2:4]))
		switch code {
		case bcSGE, bcSLE:
			minLen += 4
			if l < minLen {
				return false
			}
		case bcJmp:
		default:
			return false
		}
		if no < minLen || no > l+4 || no&3 != 0 {
			return false
		}
		if no < l && !validCC(l-no) {
			return false
		}
		if yes < minLen || yes > l+4 || yes&3 != 0 {
			return false
		}
		if yes >= l {
			return yes == l
		}
		b, l = b[yes:], l-yes
	}
	return l == 0
}

func kernelRun(bc []byte, sport uint16) bool {
	off := 0
	for off < len(bc) {
		code, yes, no := bc[off], int(bc[off+1]), int(ne.Uint16(bc[off+2:]))
		ok := true
		switch code {
		case bcJmp:
			ok = false
		case bcSGE:
			ok = sport >= ne.Uint16(bc[off+6:])
		case bcSLE:
			ok = sport <= ne.Uint16(bc[off+6:])
		}
		if ok {
			off += yes
		} else {
			off += no
		}
	}
	return off == len(bc)
}

func TestPortFilterSemantics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		ranges := make([]PortRange, 1+rng.IntN(6))
		for j := range ranges {
			a, b := uint16(rng.IntN(1<<16)), uint16(rng.IntN(1<<16))
			if i%2 == 0 { // narrow ranges so that edges are hit often
				b = a + uint16(rng.IntN(3))
				if b < a {
					b = a
				}
			}
			ranges[j] = PortRange{min(a, b), max(a, b)}
		}
		bc, err := AppendPortFilter(nil, ranges)
		if err != nil {
			t.Fatalf("AppendPortFilter(%v) = %v", ranges, err)
		}
		if !kernelAudit(bc) {
			t.Fatalf("AppendPortFilter(%v): the kernel's audit would reject % x", ranges, bc)
		}
		q := Query{Ports: ranges}
		probe := []uint16{0, 1, 65534, 65535}
		for _, r := range ranges {
			probe = append(probe, r.Lo, r.Hi, r.Lo-1, r.Hi+1)
		}
		for range 20 {
			probe = append(probe, uint16(rng.IntN(1<<16)))
		}
		for _, p := range probe {
			if got, want := kernelRun(bc, p), q.matchPort(p); got != want {
				t.Fatalf("filter %v on port %d = %v; want %v", ranges, p, got, want)
			}
		}
	}
}

// nlmsg builds one netlink message with 4-byte padding.
func nlmsg(typ, flags uint16, seq uint32, body []byte) []byte {
	b := ne.AppendUint32(nil, uint32(16+len(body)))
	b = ne.AppendUint16(b, typ)
	b = ne.AppendUint16(b, flags)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 1234)
	b = append(b, body...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func errBody(code int32) []byte { return ne.AppendUint32(nil, uint32(code)) }

func TestAppendReply(t *testing.T) {
	listener := rawMsg{
		family: AFInet, state: 10, sport: 80, src: []byte{127, 0, 0, 1}, inode: 11, wq: 128,
		attrs: attr(inetDiagShutdown, []byte{0}, true),
	}.bytes()
	conn := rawMsg{
		family: AFInet6, state: 1, sport: 22, dport: 5000, src: v6Loopback, dst: v6Loopback, inode: 12, uid: 1000,
	}.bytes()
	ns := model.NetNS{Inode: 4026531840}
	wantListener := model.Socket{
		Proto: model.TCP, Local: netip.MustParseAddrPort("127.0.0.1:80"), State: model.Listen,
		Inode: 11, SendQ: 128, NetNS: ns,
	}
	wantConn := model.Socket{
		Proto: model.TCP, Local: netip.MustParseAddrPort("[::1]:22"), Remote: netip.MustParseAddrPort("[::1]:5000"),
		State: model.Established, Inode: 12, UID: 1000, NetNS: ns,
	}
	const multi = 2
	tests := []struct {
		name    string
		b       []byte
		want    []model.Socket
		st      replyStatus
		wantErr string
	}{
		{
			name: "two sockets then done",
			b:    cat(nlmsg(20, multi, 7, listener), nlmsg(20, multi, 7, conn), nlmsg(nlmsgDone, multi, 7, errBody(0))),
			want: []model.Socket{wantListener, wantConn},
			st:   replyStatus{done: true},
		},
		{
			name: "more to come",
			b:    cat(nlmsg(20, multi, 7, listener)),
			want: []model.Socket{wantListener},
		},
		{
			name: "stale sequence numbers and noops are skipped",
			b:    cat(nlmsg(20, multi, 6, conn), nlmsg(nlmsgDone, multi, 6, errBody(0)), nlmsg(nlmsgNoop, 0, 7, nil), nlmsg(20, multi, 7, listener)),
			want: []model.Socket{wantListener},
		},
		{
			name: "interrupted",
			b:    cat(nlmsg(20, multi|nlmFDumpIntr, 7, listener), nlmsg(nlmsgDone, multi|nlmFDumpIntr, 7, errBody(0))),
			want: []model.Socket{wantListener},
			st:   replyStatus{done: true, interrupted: true},
		},
		{
			name: "error ends the dump",
			b:    nlmsg(nlmsgError, 0, 7, cat(errBody(-2), make([]byte, 16))),
			st:   replyStatus{done: true, errno: 2},
		},
		{
			name: "acknowledgement is not an end",
			b:    cat(nlmsg(nlmsgError, 0, 7, cat(errBody(0), make([]byte, 16))), nlmsg(20, multi, 7, listener)),
			want: []model.Socket{wantListener},
		},
		{
			name: "done with a failed status",
			b:    nlmsg(nlmsgDone, multi, 7, errBody(-16)),
			st:   replyStatus{done: true, errno: 16},
		},
		{
			name: "empty done",
			b:    nlmsg(nlmsgDone, multi, 7, nil),
			st:   replyStatus{done: true},
		},
		{
			name: "most negative errno",
			b:    nlmsg(nlmsgError, 0, 7, errBody(-1<<31)),
			st:   replyStatus{done: true, errno: 1 << 31},
		},
		{name: "empty datagram"},
		{
			name:    "truncated header",
			b:       cat(nlmsg(20, multi, 7, listener), make([]byte, 8)),
			want:    []model.Socket{wantListener},
			wantErr: "8 bytes, want a 16-byte header",
		},
		{
			name:    "length past the end",
			b:       nlmsg(20, multi, 7, listener)[:40],
			wantErr: "length 96, 40 bytes left",
		},
		{
			name:    "length below the header",
			b:       append(ne.AppendUint32(nil, 15), make([]byte, 12)...),
			wantErr: "length 15",
		},
		{
			name:    "short socket message",
			b:       nlmsg(20, multi, 7, listener[:71]),
			wantErr: "71 bytes, want at least 72",
		},
		{
			name:    "short error message",
			b:       nlmsg(nlmsgError, 0, 7, []byte{1, 2}),
			wantErr: "netlink error message at offset 0: 2 bytes",
		},
		{
			name:    "overrun",
			b:       nlmsg(nlmsgOverrun, 0, 7, nil),
			wantErr: "NLMSG_OVERRUN",
		},
		{
			name:    "unknown type",
			b:       nlmsg(99, 0, 7, nil),
			wantErr: "unexpected type 99",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			got, st, err := appendReply(nil, tt.b, 7, model.TCP, ns, &m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("appendReply() error = %v; want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("appendReply() error = %v; want nil", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddrs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("appendReply() sockets mismatch (-want +got):\n%s", diff)
			}
			if st != tt.st {
				t.Errorf("appendReply() status = %+v; want %+v", st, tt.st)
			}
		})
	}
}

func TestQueryValidate(t *testing.T) {
	for _, tt := range []struct {
		q  Query
		ok bool
	}{
		{Query{Proto: model.TCP, Family: 4}, true},
		{Query{Proto: model.UDP, Family: 6, Ports: []PortRange{{1, 1}}}, true},
		{Query{Proto: 1, Family: 4}, false},
		{Query{Proto: model.TCP, Family: 5}, false},
		{Query{Proto: model.TCP, Family: 4, Ports: []PortRange{{2, 1}}}, false},
	} {
		if err := tt.q.validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.validate() = %v; want ok=%v", tt.q, err, tt.ok)
		}
	}
	if got := (&Query{}).states(); got != uint32(model.AllStates) {
		t.Errorf("Query{}.states() = %#x; want %#x", got, model.AllStates)
	}
}
