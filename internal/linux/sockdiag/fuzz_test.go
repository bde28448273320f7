package sockdiag

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/whobinds/whobinds/internal/model"
)

// FuzzMessage checks that any inet_diag_msg the decoder accepts survives
// unmarshal → marshal → unmarshal unchanged, and converts to a Socket of
// the right family.
func FuzzMessage(f *testing.F) {
	f.Add(rawMsg{family: AFInet, state: 10, sport: 80, src: []byte{127, 0, 0, 1}, inode: 1,
		attrs: cat(attr(inetDiagShutdown, []byte{0}, true), attr(inetDiagCgroupID, u64(5), true))}.bytes())
	f.Add(rawMsg{family: AFInet6, state: 10, sport: 80, src: v6Loopback,
		attrs: cat(attr(inetDiagShutdown, []byte{0}, true), attr(inetDiagSkV6Only, []byte{1}, true))}.bytes())
	f.Add(rawMsg{family: AFInet6, state: 1, src: v6Mapped, dst: v6Peer, attrs: attr(15, []byte{1, 2, 3, 4}, false)}.bytes())
	for _, c := range loadCaptures(f) {
		f.Add(c.msg[nlmsgHdrLen:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m1 Message
		if err := m1.UnmarshalBinary(b); err != nil {
			return
		}
		b2, err := m1.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a decoded message = %v", err)
		}
		var m2 Message
		if err := m2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("UnmarshalBinary(MarshalBinary()) = %v", err)
		}
		if diff := cmp.Diff(m1, m2, cmpAddrs); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
		s := m1.Socket(model.TCP)
		if got, want := s.Local.Addr().Is4(), m1.Family == AFInet; got != want {
			t.Fatalf("Socket().Local = %v for family %d", s.Local, m1.Family)
		}
	})
}

// FuzzReply checks that the datagram walker never panics and never decodes
// more sockets than the datagram can hold.
func FuzzReply(f *testing.F) {
	listener := rawMsg{family: AFInet, state: 10, sport: 80, src: []byte{127, 0, 0, 1}}.bytes()
	f.Add(cat(nlmsg(20, 2, 7, listener), nlmsg(nlmsgDone, 2, 7, errBody(0))), uint32(7))
	f.Add(nlmsg(nlmsgError, 0, 7, errBody(-2)), uint32(7))
	f.Add(cat(nlmsg(20, 2|nlmFDumpIntr, 7, listener), nlmsg(20, 2, 8, listener)), uint32(8))
	for _, c := range loadCaptures(f) {
		f.Add(c.msg, ne.Uint32(c.msg[8:12]))
	}
	f.Fuzz(func(t *testing.T, b []byte, seq uint32) {
		var m Message
		got, _, _ := appendReply(nil, b, seq, model.UDP, model.NetNS{}, &m)
		if max := len(b) / (nlmsgHdrLen + msgLen); len(got) > max {
			t.Fatalf("appendReply decoded %d sockets from %d bytes", len(got), len(b))
		}
	})
}

// FuzzProcNet checks that the /proc/net parser never panics and that what
// it accepts, written back in the kernel's format, parses to the same
// sockets.
func FuzzProcNet(f *testing.F) {
	f.Add(procTCP, false, false)
	f.Add(procTCP6, true, false)
	f.Add(procUDP, false, true)
	f.Add(procUDP6, true, true)
	f.Add("  sl\n   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", false, false)
	f.Fuzz(func(t *testing.T, text string, v6, udp bool) {
		family, proto := 4, model.TCP
		if v6 {
			family = 6
		}
		if udp {
			proto = model.UDP
		}
		got, err := AppendProcNet(nil, strings.NewReader(text), proto, family, 0)
		if err != nil {
			return
		}
		again, err := AppendProcNet(nil, strings.NewReader(formatProcNet(got, family)), proto, family, 0)
		if err != nil {
			t.Fatalf("AppendProcNet(formatProcNet()) = %v", err)
		}
		if diff := cmp.Diff(got, again, cmpAddrs, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}
