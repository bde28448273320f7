package dcerpc

// Lookup against in-process endpoint mappers on 127.0.0.1: well-behaved
// ones in the shapes Windows and Samba use, and hostile ones. Every hostile
// case must end with its typed error, before the test's watchdog, without
// allocating for lengths the server only claims.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeConn is the server side of one connection.
type fakeConn struct {
	net.Conn
	t *testing.T
}

// recv reads one PDU the client sent; nil when the client is gone.
func (c *fakeConn) recv() []byte {
	hdr := make([]byte, headerLen)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return nil
	}
	n := int(le.Uint16(hdr[8:]))
	if n < headerLen {
		c.t.Errorf("client sent frag_length %d", n)
		return nil
	}
	b := make([]byte, n)
	copy(b, hdr)
	if _, err := io.ReadFull(c, b[headerLen:]); err != nil {
		return nil
	}
	return b
}

// send writes to the client; false when the client is gone.
func (c *fakeConn) send(b []byte) bool {
	_, err := c.Write(b)
	return err == nil
}

// fakeServer serves each connection with handle and returns the address.
// It stops, closing every connection, when the test ends.
func fakeServer(t *testing.T, handle func(c *fakeConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(&fakeConn{c, t})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// lookupCall is the outcome of one Lookup.
type lookupCall struct {
	entries []Entry
	err     error
	// alloc is the bytes allocated while it ran (the fake server's
	// allocations included).
	alloc uint64
}

// lookup runs Lookup with a deadline and fails the test if it has not
// returned well after it: a hang detector, not a timing assertion.
func lookup(t *testing.T, addr string, lim Limits, deadline time.Duration) lookupCall {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	done := make(chan lookupCall, 1)
	go func() {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		entries, err := Lookup(ctx, addr, lim)
		runtime.ReadMemStats(&after)
		done <- lookupCall{entries, err, after.TotalAlloc - before.TotalAlloc}
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(deadline + 20*time.Second):
		t.Fatalf("Lookup(%s) did not return within 20 s of its %v deadline", addr, deadline)
		return lookupCall{}
	}
}

// epmServer answers the bind and then each ept_lookup with the next of
// replies (stubs), split into fragments of chunk stub bytes. It checks that
// the client echoes the handle of the previous reply.
func epmServer(t *testing.T, chunk int, replies ...lookupResponse) func(c *fakeConn) {
	return func(c *fakeConn) {
		bind := c.recv()
		if want := encodeBind(1, bindFrag); !bytes.Equal(bind, want) {
			t.Errorf("client bind = %x; want %x", bind, want)
			return
		}
		if !c.send(bindAck(1)) {
			return
		}
		var handle [handleLen]byte
		for i, r := range replies {
			req := c.recv()
			if req == nil {
				return
			}
			callID := uint32(i + 2)
			if want := encodeRequest(callID, opLookup, encodeLookup(handle, maxEnts)); !bytes.Equal(req, want) {
				t.Errorf("ept_lookup %d = %x; want %x", i+1, req, want)
				return
			}
			if !c.send(responsePDUs(callID, encodeLookupResponse(r), chunk)) {
				return
			}
			handle = r.Handle
		}
		if b := c.recv(); b != nil {
			t.Errorf("client sent another PDU after the last reply: %x", b)
		}
	}
}

func entriesN(n int, port uint16) []Entry {
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{Interface: samr, Version: "1.0", Protocol: ProtoTCP, Host: "0.0.0.0",
			Endpoint: itoa(int(port)), Port: port, Annotation: "samr"}
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestLookupServers covers the ways real servers end a lookup.
func TestLookupServers(t *testing.T) {
	h1 := moreHandle
	h2 := moreHandle
	h2[19] = 0x22
	a, b, c := entriesN(2, 49664), entriesN(3, 49665), entriesN(1, 49666)
	tests := []struct {
		name    string
		chunk   int
		replies []lookupResponse
		want    []Entry
	}{
		{"Windows: null handle", 1 << 20, []lookupResponse{
			{Handle: h1, Entries: goldenEntries}, {Handle: h2, Entries: a}, {Entries: b}},
			concat(goldenEntries, a, b)},
		{"Samba: not registered with the last entries", 1 << 20, []lookupResponse{
			{Handle: h1, Entries: a}, {Handle: h2, Entries: b, Status: statusNotRegistered}},
			concat(a, b)},
		{"Samba: not registered on an extra empty reply", 1 << 20, []lookupResponse{
			{Handle: h1, Entries: a}, {Handle: h2, Entries: c}, {Handle: h2, Status: statusNotRegistered}},
			concat(a, c)},
		{"empty map", 1 << 20, []lookupResponse{{Status: statusNotRegistered}}, nil},
		{"fragments of 8 stub bytes", 8, []lookupResponse{
			{Handle: h1, Entries: goldenEntries}, {Entries: entriesN(40, 135)}},
			concat(goldenEntries, entriesN(40, 135))},
		{"500 entries a reply", 4256, []lookupResponse{
			{Handle: h1, Entries: entriesN(500, 1)}, {Entries: entriesN(500, 2), Status: statusNotRegistered}},
			concat(entriesN(500, 1), entriesN(500, 2))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeServer(t, epmServer(t, tt.chunk, tt.replies...))
			r := lookup(t, addr, Limits{}, 10*time.Second)
			if r.err != nil {
				t.Fatalf("Lookup(%s) = %v", addr, r.err)
			}
			if diff := cmp.Diff(tt.want, r.entries); diff != "" {
				t.Errorf("Lookup(%s) mismatch (-want +got):\n%s", addr, diff)
			}
		})
	}
}

func concat(lists ...[]Entry) []Entry {
	var out []Entry
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// afterBind answers the bind, reads one request and hands over to f.
func afterBind(f func(c *fakeConn, callID uint32)) func(c *fakeConn) {
	return func(c *fakeConn) {
		if c.recv() == nil || !c.send(bindAck(1)) || c.recv() == nil {
			return
		}
		f(c, 2)
	}
}

// drain reads what the client sends until it goes away.
func drain(c *fakeConn) { io.Copy(io.Discard, c) }

// TestLookupHostile: each hostile server ends the lookup with its typed
// error, and the client never allocates for what the server only claims.
func TestLookupHostile(t *testing.T) {
	const silent = 300 * time.Millisecond
	small := Limits{MaxFragment: 8192, MaxBytes: 256 << 10, MaxEntries: 1000, MaxCalls: 20}
	tests := []struct {
		name   string
		serve  func(c *fakeConn)
		lim    Limits
		want   error
		msg    string
		result int // entries returned with the error
	}{
		{"oversized frag_length", afterBind(func(c *fakeConn, id uint32) {
			b := responseFragment(id, 3, 0, nil)
			le.PutUint16(b[8:], 60000)
			c.send(b)
			drain(c)
		}), small, ErrLimit, "a fragment of 60000 bytes, 8192 allowed", 0},
		{"frag_length shorter than a header", afterBind(func(c *fakeConn, id uint32) {
			b := responseFragment(id, 3, 0, nil)
			le.PutUint16(b[8:], 3)
			c.send(b)
			drain(c)
		}), Limits{}, ErrMalformed, "frag_length 3", 0},
		{"endless fragments without LAST_FRAG", afterBind(func(c *fakeConn, id uint32) {
			first := responseFragment(id, pfcFirstFrag, 1<<30, make([]byte, 4000))
			middle := responseFragment(id, 0, 1<<30, make([]byte, 4000))
			for ok := c.send(first); ok; ok = c.send(middle) {
			}
		}), small, ErrLimit, "more than 262144 bytes", 0},
		{"endless empty fragments", afterBind(func(c *fakeConn, id uint32) {
			first := responseFragment(id, pfcFirstFrag, 0, nil)
			middle := responseFragment(id, 0, 0, nil)
			for ok := c.send(first); ok; ok = c.send(middle) {
			}
		}), small, ErrLimit, "more than 262144 bytes", 0},
		{"a count of millions", afterBind(func(c *fakeConn, id uint32) {
			stub := encodeLookupResponse(lookupResponse{Handle: moreHandle, Entries: goldenEntries})
			le.PutUint32(stub[20:], 3_000_000)
			le.PutUint32(stub[24:], 3_000_000)
			le.PutUint32(stub[32:], 3_000_000)
			c.send(responsePDUs(id, stub, 4256))
			drain(c)
		}), Limits{}, ErrLimit, "3000000 entries, 10000 allowed", 0},
		{"alloc_hint of 4 GiB", afterBind(func(c *fakeConn, id uint32) {
			c.send(responseFragment(id, 3, 0xffffffff, encodeLookupResponse(lookupResponse{Entries: goldenEntries})))
			drain(c)
		}), Limits{}, nil, "", 2},
		{"tower longer than the reply", afterBind(func(c *fakeConn, id uint32) {
			stub := encodeLookupResponse(lookupResponse{Entries: goldenEntries})
			le.PutUint32(stub[136:], 0x7fffffff)
			le.PutUint32(stub[140:], 0x7fffffff)
			c.send(responsePDUs(id, stub, 4256))
			drain(c)
		}), Limits{}, ErrMalformed, "tower of 2147483647 bytes", 0},
		{"truncated tower floors", afterBind(func(c *fakeConn, id uint32) {
			stub := encodeLookupResponse(lookupResponse{Entries: goldenEntries})
			le.PutUint16(stub[144:], 200) // floor_count
			c.send(responsePDUs(id, stub, 4256))
			drain(c)
		}), Limits{}, ErrMalformed, "entry 0: floor 6: malformed reply: tower ends inside a floor", 0},
		{"reply cut short", afterBind(func(c *fakeConn, id uint32) {
			stub := encodeLookupResponse(lookupResponse{Entries: goldenEntries})
			c.send(responsePDUs(id, stub[:100], 4256))
			drain(c)
		}), Limits{}, ErrMalformed, "ept_lookup reply 1", 0},
		{"handle never zero", func(c *fakeConn) {
			if c.recv() == nil || !c.send(bindAck(1)) {
				return
			}
			for id := uint32(2); c.recv() != nil; id++ {
				c.send(responsePDUs(id, encodeLookupResponse(lookupResponse{Handle: moreHandle, Entries: goldenEntries[:1]}), 4256))
			}
		}, Limits{}, ErrLimit, "200 ept_lookup calls and the server still has more", 200},
		{"handle never zero, entries over the limit", func(c *fakeConn) {
			if c.recv() == nil || !c.send(bindAck(1)) {
				return
			}
			for id := uint32(2); c.recv() != nil; id++ {
				c.send(responsePDUs(id, encodeLookupResponse(lookupResponse{Handle: moreHandle, Entries: entriesN(300, 7)}), 4256))
			}
		}, small, ErrLimit, "a reply with 300 entries, 100 allowed", 900},
		{"silent after accept", func(c *fakeConn) { drain(c) }, Limits{}, context.DeadlineExceeded, "reading bind_ack", 0},
		{"silent after the bind_ack", afterBind(func(c *fakeConn, id uint32) { drain(c) }), Limits{}, context.DeadlineExceeded, "reading ept_lookup response", 0},
		{"half a header, then silence", afterBind(func(c *fakeConn, id uint32) {
			c.send(responseFragment(id, 3, 0, nil)[:7])
			drain(c)
		}), Limits{}, context.DeadlineExceeded, "", 0},
		{"closes after the bind", func(c *fakeConn) { c.recv() }, Limits{}, io.ErrUnexpectedEOF, "server closed the connection", 0},
		{"HTTP", func(c *fakeConn) {
			c.send([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			c.recv() // the bind, so that closing does not reset the connection
		}, Limits{}, ErrNotRPC, `not a DCE/RPC server: it sent "HTTP/1.1 400 Bad"`, 0},
		{"SSH banner after the bind", func(c *fakeConn) {
			c.recv()
			c.send([]byte("SSH-2.0-OpenSSH_9.2p1\r\n"))
		}, Limits{}, ErrNotRPC, `it sent "SSH-2.0-OpenSSH_"`, 0},
		{"one stray byte", func(c *fakeConn) { c.send([]byte{0x15}); c.recv() }, Limits{}, ErrNotRPC, `it sent "\x15"`, 0},
		{"connectionless version 4", func(c *fakeConn) {
			c.recv()
			c.send(append([]byte{4, 0}, bindAck(1)[2:]...))
		}, Limits{}, ErrNotRPC, "", 0},
		{"bind_nak", func(c *fakeConn) {
			c.recv()
			c.send(bindNak(1, 2))
		}, Limits{}, ErrRejected, "bind_nak, reason 2 (local limit exceeded)", 0},
		{"fault to the bind", func(c *fakeConn) {
			c.recv()
			c.send(faultPDU(1, 5))
		}, Limits{}, ErrFault, "status 0x00000005 (access denied)", 0},
		{"fault to ept_lookup", afterBind(func(c *fakeConn, id uint32) {
			c.send(faultPDU(id, 0x1c010003))
			drain(c)
		}), Limits{}, ErrFault, "ept_lookup: DCE/RPC fault: status 0x1c010003 (nca_s_unk_if)", 0},
		{"error status", afterBind(func(c *fakeConn, id uint32) {
			c.send(responsePDUs(id, encodeLookupResponse(lookupResponse{Entries: goldenEntries, Status: 5}), 4256))
			drain(c)
		}), Limits{}, ErrFault, "DCE/RPC fault: ept_lookup returned status 0x00000005 (access denied)", 0},
		{"response to another call", afterBind(func(c *fakeConn, id uint32) {
			c.send(responsePDUs(id+7, encodeLookupResponse(lookupResponse{Entries: goldenEntries}), 4256))
			drain(c)
		}), Limits{}, ErrMalformed, "response to call 9, expected 2", 0},
		{"middle fragment first", afterBind(func(c *fakeConn, id uint32) {
			c.send(responseFragment(id, pfcLastFrag, 0, encodeLookupResponse(lookupResponse{})))
			drain(c)
		}), Limits{}, ErrMalformed, "out of order", 0},
		{"request PDU in reply", afterBind(func(c *fakeConn, id uint32) {
			c.send(encodeRequest(id, 2, make([]byte, 40)))
			drain(c)
		}), Limits{}, ErrMalformed, "PDU type 0", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeServer(t, tt.serve)
			// The ctx deadline: short where the server is silent.
			deadline := 5 * time.Second
			if tt.want == context.DeadlineExceeded {
				deadline = silent
			}
			r := lookup(t, addr, tt.lim, deadline)
			t.Logf("%v, %d entries, %d bytes allocated", r.err, len(r.entries), r.alloc)
			switch {
			case tt.want == nil && r.err != nil:
				t.Fatalf("Lookup(%s) = %v; want no error", addr, r.err)
			case tt.want != nil && !errors.Is(r.err, tt.want):
				t.Fatalf("Lookup(%s) = %v; want %v", addr, r.err, tt.want)
			}
			if r.err != nil {
				msg := r.err.Error()
				if !strings.HasPrefix(msg, "endpoint mapper at "+addr+": ") || !strings.Contains(msg, tt.msg) || strings.Contains(msg, "\n") {
					t.Errorf("Lookup(%s) = %q; want one line naming the address and containing %q", addr, msg, tt.msg)
				}
			}
			if len(r.entries) != tt.result {
				t.Errorf("Lookup(%s) returned %d entries with %v; want %d", addr, len(r.entries), r.err, tt.result)
			}
			// Bounded memory: what the limits allow, with room for the
			// decoded entries, the runtime and the fake server.
			lim := tt.lim.withDefaults()
			if bound := uint64(3*lim.MaxBytes + 2*lim.MaxFragment + 4<<20); r.alloc > bound {
				t.Errorf("Lookup(%s) allocated %d bytes; want at most %d", addr, r.alloc, bound)
			}
		})
	}
}

func TestLookupContext(t *testing.T) {
	addr := fakeServer(t, func(c *fakeConn) { drain(c) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Lookup(ctx, addr, Limits{})
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Lookup(cancelled ctx) = %v; want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Lookup did not return after its context was cancelled")
	}
}

func TestLookupRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := lookup(t, addr, Limits{}, 5*time.Second)
	var op *net.OpError
	if !errors.As(r.err, &op) || op.Op != "dial" || !strings.HasPrefix(r.err.Error(), "endpoint mapper at "+addr+": ") {
		t.Errorf("Lookup(closed port %s) = %v; want a dial error naming the address", addr, r.err)
	}
	for _, sentinel := range []error{ErrNotRPC, ErrRejected, ErrFault, ErrLimit, ErrMalformed} {
		if errors.Is(r.err, sentinel) {
			t.Errorf("Lookup(closed port) = %v; it must not wrap %v", r.err, sentinel)
		}
	}
}

func TestLimitsDefaults(t *testing.T) {
	want := Limits{MaxFragment: 65536, MaxBytes: 4 << 20, MaxEntries: 10000, MaxCalls: 200}
	if got := (Limits{}).withDefaults(); got != want {
		t.Errorf("Limits{}.withDefaults() = %+v; want %+v", got, want)
	}
	if got := (Limits{MaxFragment: -1, MaxCalls: 3}).withDefaults(); got.MaxFragment != 65536 || got.MaxCalls != 3 {
		t.Errorf("Limits{MaxFragment: -1, MaxCalls: 3}.withDefaults() = %+v", got)
	}
}

// TestBindOffersMaxFragment: a MaxFragment under 4280 is what the client
// asks the server to send at most.
func TestBindOffersMaxFragment(t *testing.T) {
	got := make(chan []byte, 1)
	addr := fakeServer(t, func(c *fakeConn) { got <- c.recv() })
	lookup(t, addr, Limits{MaxFragment: 2048}, 5*time.Second)
	bind := <-got
	if len(bind) < 20 || le.Uint16(bind[16:]) != 2048 || le.Uint16(bind[18:]) != 2048 {
		t.Errorf("bind with MaxFragment 2048 = %x; want max_xmit_frag and max_recv_frag 2048", bind)
	}
}
