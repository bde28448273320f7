package oncrpc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	rpcbEntries = []Mapping{
		{Program: 100000, Version: 4, Netid: "tcp6", Addr: "::.0.111", Port: 111, Owner: "superuser"},
		{Program: 100000, Version: 4, Netid: "local", Addr: "/run/rpcbind.sock", Owner: "superuser"},
		{Program: 100024, Version: 1, Netid: "udp", Addr: "0.0.0.0.137.133", Port: 35205, Owner: "superuser"},
	}
	pmapEntries = []Mapping{
		{Program: 100000, Version: 2, Netid: "tcp", Port: 111},
		{Program: 100024, Version: 1, Netid: "udp", Port: 35205},
	}
)

func ok(results []byte) reply     { return reply{accept: success, results: results} }
func accepted(s acceptStat) reply { return reply{accept: s} }
func progRange(low, high uint32) reply {
	return reply{accept: progMismatch, low: low, high: high}
}

func TestDump(t *testing.T) {
	rpcb := ok(appendRpcbList(nil, rpcbEntries))
	pmap := ok(appendPmapList(nil, pmapEntries))
	many := make([]Mapping, 6)
	for i := range many {
		many[i] = Mapping{Program: uint32(100000 + i), Version: 1, Netid: "tcp", Port: 1}
	}
	tests := []struct {
		name    string
		answers map[uint32]reply
		opt     Options
		want    []Mapping
		wantErr error
		errText string // a part of the error's text
		asked   []uint32
	}{
		{
			name:    "rpcbind v4",
			answers: map[uint32]reply{4: rpcb, 3: rpcb, 2: pmap},
			want:    rpcbEntries,
			asked:   []uint32{4},
		},
		{
			name:    "portmapper v2 only",
			answers: map[uint32]reply{4: progRange(2, 2), 3: progRange(2, 2), 2: pmap},
			want:    pmapEntries,
			asked:   []uint32{4, 2}, // v3 is outside the range the server gave
		},
		{
			name:    "v4 without DUMP",
			answers: map[uint32]reply{4: accepted(procUnavail), 3: rpcb},
			want:    rpcbEntries,
			asked:   []uint32{4, 3},
		},
		{
			name:    "v2 forced",
			answers: map[uint32]reply{4: rpcb, 3: rpcb, 2: pmap},
			opt:     Options{Version: 2},
			want:    pmapEntries,
			asked:   []uint32{2},
		},
		{
			name:    "v3 forced",
			answers: map[uint32]reply{4: rpcb, 3: rpcb, 2: pmap},
			opt:     Options{Version: 3},
			want:    rpcbEntries,
			asked:   []uint32{3},
		},
		{
			name:    "v3 forced on a v2 server",
			answers: map[uint32]reply{3: progRange(2, 2)},
			opt:     Options{Version: 3},
			wantErr: ErrVersion,
			errText: "DUMP over TRANSPORT: v3 PROG_MISMATCH (the server has versions 2 to 2)",
			asked:   []uint32{3},
		},
		{
			name:    "only newer versions",
			answers: map[uint32]reply{4: progRange(5, 6)},
			wantErr: ErrVersion,
			errText: "DUMP over TRANSPORT: v4 PROG_MISMATCH (the server has versions 5 to 6)",
			asked:   []uint32{4},
		},
		{
			name:    "DUMP nowhere",
			answers: map[uint32]reply{4: accepted(procUnavail), 3: accepted(procUnavail), 2: accepted(procUnavail)},
			wantErr: ErrVersion,
			errText: "DUMP over TRANSPORT: v4 PROC_UNAVAIL, v3 PROC_UNAVAIL, v2 PROC_UNAVAIL",
			asked:   []uint32{4, 3, 2},
		},
		{
			name:    "not the portmapper",
			answers: map[uint32]reply{4: accepted(progUnavail)},
			wantErr: ErrVersion,
			errText: "PROG_UNAVAIL",
			asked:   []uint32{4},
		},
		{
			name:    "AUTH_ERROR",
			answers: map[uint32]reply{4: {denied: true, reject: rejectAuthError, auth: 5}},
			wantErr: ErrDenied,
			errText: "AUTH_ERROR AUTH_TOOWEAK",
			asked:   []uint32{4},
		},
		{
			name:    "RPC_MISMATCH",
			answers: map[uint32]reply{4: {denied: true, reject: rejectRPCMismatch, low: 3, high: 4}},
			wantErr: ErrDenied,
			errText: "RPC versions 3 to 4",
			asked:   []uint32{4},
		},
		{
			name:    "GARBAGE_ARGS",
			answers: map[uint32]reply{4: accepted(garbageArgs)},
			wantErr: ErrDenied,
			errText: "v4 DUMP over TRANSPORT: GARBAGE_ARGS",
			asked:   []uint32{4},
		},
		{
			name:    "results cut",
			answers: map[uint32]reply{4: ok(appendRpcbList(nil, rpcbEntries)[:50])},
			wantErr: ErrNotRPC,
			errText: "malformed results",
			asked:   []uint32{4},
		},
		{
			name:    "more entries than allowed",
			answers: map[uint32]reply{2: ok(appendPmapList(nil, many))},
			opt:     Options{Version: 2, MaxEntries: 5},
			wantErr: ErrLimit,
			errText: "more than 5 entries",
			asked:   []uint32{2},
		},
		{
			name:    "entries at the limit",
			answers: map[uint32]reply{2: ok(appendPmapList(nil, many))},
			opt:     Options{Version: 2, MaxEntries: 6},
			want:    many,
			asked:   []uint32{2},
		},
		{
			name:    "empty map",
			answers: map[uint32]reply{4: ok(appendRpcbList(nil, nil))},
			want:    nil,
			asked:   []uint32{4},
		},
	}
	for _, transport := range []string{"tcp", "udp"} {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				f := &fakePortmapper{answers: tt.answers}
				addr := f.serve(t, transport)
				opt := tt.opt
				opt.Transport = transport
				got, _, err := dumpBounded(t, 5*time.Second, addr, opt)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("Dump(%s, %+v) = %v; want %v", addr, opt, err, tt.wantErr)
				}
				if err != nil {
					errText := strings.ReplaceAll(tt.errText, "TRANSPORT", transport)
					if !strings.Contains(err.Error(), errText) || !strings.HasPrefix(err.Error(), "rpcbind "+addr+": ") || strings.Contains(err.Error(), "\n") {
						t.Errorf("Dump(%s, %+v) = %q; want one line starting %q and containing %q", addr, opt, err, "rpcbind "+addr+": ", errText)
					}
				}
				if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Dump(%s, %+v) (-want +got):\n%s", addr, opt, diff)
				}
				if diff := cmp.Diff(tt.asked, f.Asked()); diff != "" {
					t.Errorf("versions asked (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestDumpSystemErr: over UDP, rpcbind answers SYSTEM_ERR when the map
// does not fit in a datagram, and Dump moves on to smaller versions; over
// TCP, SYSTEM_ERR is final.
func TestDumpSystemErr(t *testing.T) {
	sysErr := accepted(systemErr)
	pmap := ok(appendPmapList(nil, pmapEntries))
	tests := []struct {
		name      string
		transport string
		answers   map[uint32]reply
		opt       Options
		want      []Mapping
		wantErr   error
		errText   string
		asked     []uint32
	}{
		{"tcp", "tcp", map[uint32]reply{4: sysErr, 3: sysErr, 2: pmap}, Options{}, nil, ErrDenied, "v4 DUMP over tcp: SYSTEM_ERR", []uint32{4}},
		{"udp, v2 fits", "udp", map[uint32]reply{4: sysErr, 3: sysErr, 2: pmap}, Options{}, pmapEntries, nil, "", []uint32{4, 3, 2}},
		{"udp, nothing fits", "udp", map[uint32]reply{4: sysErr, 3: sysErr, 2: sysErr}, Options{}, nil, ErrDenied,
			"DUMP over udp: v4 SYSTEM_ERR, v3 SYSTEM_ERR, v2 SYSTEM_ERR (is the map too large for a datagram? try tcp)", []uint32{4, 3, 2}},
		{"udp, v4 forced", "udp", map[uint32]reply{4: sysErr, 2: pmap}, Options{Version: 4}, nil, ErrDenied,
			"DUMP over udp: v4 SYSTEM_ERR (is the map too large", []uint32{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePortmapper{answers: tt.answers}
			addr := f.serve(t, tt.transport)
			opt := tt.opt
			opt.Transport = tt.transport
			got, _, err := dumpBounded(t, 5*time.Second, addr, opt)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.errText)) {
				t.Errorf("Dump(%s, %+v) = %v; want %v containing %q", addr, opt, err, tt.wantErr, tt.errText)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Dump(%s, %+v) (-want +got):\n%s", addr, opt, diff)
			}
			if diff := cmp.Diff(tt.asked, f.Asked()); diff != "" {
				t.Errorf("versions asked (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDumpFragmentedReply(t *testing.T) {
	f := &fakePortmapper{
		answers: map[uint32]reply{4: ok(appendRpcbList(nil, rpcbEntries))},
		frame:   func(m []byte) []byte { return appendFragments(nil, m, 1, 0, 7, 3, 16) },
	}
	addr := f.serve(t, "tcp")
	got, _, err := dumpBounded(t, 5*time.Second, addr, Options{})
	if err != nil {
		t.Fatalf("Dump(%s) = %v", addr, err)
	}
	if diff := cmp.Diff(rpcbEntries, got); diff != "" {
		t.Errorf("Dump(%s) (-want +got):\n%s", addr, diff)
	}
}

func TestDumpOptions(t *testing.T) {
	for _, opt := range []Options{{Transport: "sctp"}, {Transport: "TCP"}, {Version: 1}, {Version: 5}, {Version: -1}} {
		if _, err := Dump(context.Background(), "127.0.0.1:1", opt); err == nil {
			t.Errorf("Dump(%+v) = nil error; want one", opt)
		}
	}
}

// TestDumpUDPRetransmits drops the first datagram: the client must send
// again and take the answer to the second.
func TestDumpUDPRetransmits(t *testing.T) {
	f := &fakePortmapper{answers: map[uint32]reply{4: ok(appendRpcbList(nil, rpcbEntries))}}
	var seen atomic.Int32
	addr := serveUDP(t, func(pc net.PacketConn, from net.Addr, req []byte) {
		if seen.Add(1) == 1 {
			return
		}
		f.serveUDP(pc, from, req)
	})
	got, _, err := dumpBounded(t, 10*time.Second, addr, Options{Transport: "udp"})
	if err != nil {
		t.Fatalf("Dump(%s) = %v", addr, err)
	}
	if diff := cmp.Diff(rpcbEntries, got); diff != "" {
		t.Errorf("Dump(%s) (-want +got):\n%s", addr, diff)
	}
	if n := seen.Load(); n < 2 {
		t.Errorf("server saw %d datagrams; want 2 or more", n)
	}
}

// TestDumpUDPLateAnswer sends the answer to the v4 call again before the
// answer to the v2 call: the client must skip it.
func TestDumpUDPLateAnswer(t *testing.T) {
	var last []byte
	addr := serveUDP(t, func(pc net.PacketConn, from net.Addr, req []byte) {
		xid, _, vers, _, _ := parseCall(req)
		if vers == 4 {
			last = appendReply(nil, reply{xid: xid, accept: progMismatch, low: 2, high: 2})
			pc.WriteTo(last, from)
			return
		}
		pc.WriteTo(last, from)
		pc.WriteTo(appendReply(nil, reply{xid: xid, accept: success, results: appendPmapList(nil, pmapEntries)}), from)
	})
	got, _, err := dumpBounded(t, 5*time.Second, addr, Options{Transport: "udp"})
	if err != nil {
		t.Fatalf("Dump(%s) = %v", addr, err)
	}
	if diff := cmp.Diff(pmapEntries, got); diff != "" {
		t.Errorf("Dump(%s) (-want +got):\n%s", addr, diff)
	}
}

// Hostile servers. Each must end Dump with the right error, within the
// deadline, without allocating much more than the limits allow.

// forever writes b to c until the peer goes away.
func forever(c net.Conn, b []byte) {
	for {
		if _, err := c.Write(b); err != nil {
			return
		}
	}
}

// endlessList is a reply and then rpcblist entries without end.
func endlessList(xid uint32) (head, entry []byte) {
	head = appendReply(nil, reply{xid: xid, accept: success})
	entry = appendRpcbList(nil, rpcbEntries[:1])
	return head, entry[:len(entry)-4]
}

func TestDumpHostileTCP(t *testing.T) {
	tests := []struct {
		name    string
		handle  func(c net.Conn, xid uint32)
		opt     Options
		wantErr error
	}{
		{"huge record length", func(c net.Conn, xid uint32) {
			c.Write([]byte{0xff, 0xff, 0xff, 0xff})
			c.Read(make([]byte, 1))
		}, Options{}, ErrLimit},
		{"huge fragment length", func(c net.Conn, xid uint32) {
			c.Write([]byte{0x7f, 0xff, 0xff, 0xf0})
			c.Read(make([]byte, 1))
		}, Options{}, ErrLimit},
		{"endless empty fragments", func(c net.Conn, xid uint32) {
			forever(c, bytes.Repeat([]byte{0, 0, 0, 0}, 1024))
		}, Options{}, ErrLimit},
		{"endless fragments", func(c net.Conn, xid uint32) {
			forever(c, append([]byte{0, 0, 0x10, 0}, make([]byte, 0x1000)...))
		}, Options{MaxFragments: 1 << 20}, ErrLimit},
		{"endless list, record limit", func(c net.Conn, xid uint32) {
			head, entry := endlessList(xid)
			chunk := bytes.Repeat(entry, 1000)
			c.Write(append(appendUint32(nil, uint32(len(head))), head...))
			forever(c, append(appendUint32(nil, uint32(len(chunk))), chunk...))
		}, Options{}, ErrLimit},
		{"endless list, byte limit", func(c net.Conn, xid uint32) {
			head, entry := endlessList(xid)
			chunk := bytes.Repeat(entry, 1000)
			c.Write(append(appendUint32(nil, uint32(len(head))), head...))
			forever(c, append(appendUint32(nil, uint32(len(chunk))), chunk...))
		}, Options{MaxRecord: 1 << 30, MaxFragments: 1 << 30}, ErrLimit},
		{"endless list in one record", func(c net.Conn, xid uint32) {
			head, entry := endlessList(xid)
			body := append(head, bytes.Repeat(entry, 20000)...)
			c.Write(appendRecord(nil, body))
			c.Read(make([]byte, 1))
		}, Options{MaxRecord: 2 << 20}, ErrLimit}, // 10000 entries
		{"wrong xid", func(c net.Conn, xid uint32) {
			c.Write(appendRecord(nil, appendReply(nil, reply{xid: xid + 1, accept: success, results: appendRpcbList(nil, nil)})))
			c.Read(make([]byte, 1))
		}, Options{}, ErrNotRPC},
		{"silent", func(c net.Conn, xid uint32) {
			c.Read(make([]byte, 1))
		}, Options{}, context.DeadlineExceeded},
		{"half a reply", func(c net.Conn, xid uint32) {
			c.Write(appendRecord(nil, appendReply(nil, reply{xid: xid, accept: success, results: appendRpcbList(nil, rpcbEntries)}))[:30])
			c.Read(make([]byte, 1))
		}, Options{}, context.DeadlineExceeded},
		{"drip", func(c net.Conn, xid uint32) {
			// A byte at a time, each in time for a per-read timeout,
			// never done: the deadline is overall.
			msg := appendRecord(nil, appendReply(nil, reply{xid: xid, accept: success, results: appendRpcbList(nil, rpcbEntries)}))
			for _, b := range msg {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}, Options{}, context.DeadlineExceeded},
		{"HTTP", func(c net.Conn, xid uint32) {
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		}, Options{}, ErrNotRPC},
		{"echo", func(c net.Conn, xid uint32) {
			c.Write(appendRecord(nil, appendCall(nil, xid, portmapProg, 4, procDump)))
			c.Read(make([]byte, 1))
		}, Options{}, ErrNotRPC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveTCP(t, func(c net.Conn) {
				if xid, _, ok := readCall(c); ok {
					tt.handle(c, xid)
				}
			})
			got, alloc, err := dumpBounded(t, time.Second, addr, tt.opt)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Dump(%s, %+v) = %+v, %v; want %v", addr, tt.opt, got, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("Dump(%s) = %q; want one line", addr, err)
			}
			t.Logf("Dump = %v (%d bytes allocated)", err, alloc)
			if alloc > 16<<20 {
				t.Errorf("Dump(%s, %+v) allocated %d bytes; want under 16 MiB", addr, tt.opt, alloc)
			}
		})
	}
}

func TestDumpHostileUDP(t *testing.T) {
	tests := []struct {
		name    string
		handle  func(pc net.PacketConn, from net.Addr, xid uint32)
		opt     Options
		wantErr error
	}{
		{"list without end", func(pc net.PacketConn, from net.Addr, xid uint32) {
			head, entry := endlessList(xid)
			pc.WriteTo(append(head, bytes.Repeat(entry, 60000/len(entry))...), from)
		}, Options{}, ErrNotRPC},
		{"list over the entry limit", func(pc net.PacketConn, from net.Addr, xid uint32) {
			head, entry := endlessList(xid)
			pc.WriteTo(append(head, bytes.Repeat(entry, 60000/len(entry))...), from)
		}, Options{MaxEntries: 100}, ErrLimit},
		{"datagram over the record limit", func(pc net.PacketConn, from net.Addr, xid uint32) {
			pc.WriteTo(appendReply(nil, reply{xid: xid, accept: success, results: appendRpcbList(nil, rpcbEntries)}), from)
		}, Options{MaxRecord: 64}, ErrLimit},
		{"wrong xid", func(pc net.PacketConn, from net.Addr, xid uint32) {
			pc.WriteTo(appendReply(nil, reply{xid: xid ^ 0x8000, accept: success, results: appendRpcbList(nil, nil)}), from)
		}, Options{}, ErrNotRPC},
		{"late answers without end", func(pc net.PacketConn, from net.Addr, xid uint32) {
			// After a PROG_MISMATCH to v4, answer the v2 call with
			// copies of the v4 answer only.
			stale := appendReply(nil, reply{xid: xid, accept: progMismatch, low: 2, high: 2})
			pc.WriteTo(stale, from)
			go func() {
				for {
					if _, err := pc.WriteTo(stale, from); err != nil {
						return
					}
				}
			}()
		}, Options{MaxBytes: 1 << 16}, ErrLimit},
		{"silent", func(pc net.PacketConn, from net.Addr, xid uint32) {}, Options{}, context.DeadlineExceeded},
		{"HTTP", func(pc net.PacketConn, from net.Addr, xid uint32) {
			pc.WriteTo([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"), from)
		}, Options{}, ErrNotRPC},
		{"echo", func(pc net.PacketConn, from net.Addr, xid uint32) {
			pc.WriteTo(appendCall(nil, xid, portmapProg, 4, procDump), from)
		}, Options{}, ErrNotRPC},
		{"short datagram", func(pc net.PacketConn, from net.Addr, xid uint32) {
			pc.WriteTo([]byte{1, 2}, from)
		}, Options{}, ErrNotRPC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first atomic.Bool
			addr := serveUDP(t, func(pc net.PacketConn, from net.Addr, req []byte) {
				if xid, _, _, _, ok := parseCall(req); ok && !first.Swap(true) {
					tt.handle(pc, from, xid)
				}
			})
			opt := tt.opt
			opt.Transport = "udp"
			got, alloc, err := dumpBounded(t, time.Second, addr, opt)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Dump(%s, %+v) = %+v, %v; want %v", addr, opt, got, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("Dump(%s) = %q; want one line", addr, err)
			}
			t.Logf("Dump = %v (%d bytes allocated)", err, alloc)
			if alloc > 16<<20 {
				t.Errorf("Dump(%s, %+v) allocated %d bytes; want under 16 MiB", addr, opt, alloc)
			}
		})
	}
}

func TestDumpClosedTCP(t *testing.T) {
	addr := serveTCP(t, func(c net.Conn) { readCall(c) })
	_, _, err := dumpBounded(t, 5*time.Second, addr, Options{})
	if err == nil || !strings.Contains(err.Error(), "closed the connection without an answer") {
		t.Errorf("Dump(%s) = %v; want the server closed the connection", addr, err)
	}
}

func TestDumpRefused(t *testing.T) {
	// A port that was free a moment ago.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, _, err = dumpBounded(t, 5*time.Second, addr, Options{})
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || !strings.HasPrefix(err.Error(), "rpcbind "+addr+": ") {
		t.Errorf("Dump(%s) = %v; want the dial error, wrapped with the address", addr, err)
	}
	if runtime.GOOS != "linux" {
		return // other systems may not report ICMP errors on UDP
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = pc.LocalAddr().String()
	pc.Close()
	_, _, err = dumpBounded(t, 5*time.Second, addr, Options{Transport: "udp"})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Dump(%s, udp) = %v; want connection refused", addr, err)
	}
}

// TestDumpCancel cancels the context while a silent server holds the
// call: Dump must return context.Canceled.
func TestDumpCancel(t *testing.T) {
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			called := make(chan struct{}, 1)
			var addr string
			if transport == "udp" {
				addr = serveUDP(t, func(net.PacketConn, net.Addr, []byte) {
					select {
					case called <- struct{}{}:
					default:
					}
				})
			} else {
				addr = serveTCP(t, func(c net.Conn) {
					readCall(c)
					called <- struct{}{}
					c.Read(make([]byte, 1))
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			go func() { <-called; cancel() }()
			done := make(chan error, 1)
			go func() {
				_, err := Dump(ctx, addr, Options{Transport: transport})
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Dump(%s) = %v; want context.Canceled", addr, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("Dump(%s) did not return after cancel", addr)
			}
		})
	}
}
