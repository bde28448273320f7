package oncrpc

// This file holds in-process servers on 127.0.0.1 for Dump's tests: a
// programmable portmapper, and plumbing for hostile ones.

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/windows/wine"
)

// serveTCP listens on 127.0.0.1 and runs handle on each connection until
// the test ends. It returns the address.
func serveTCP(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// serveUDP listens on 127.0.0.1 and calls handle for each datagram until
// the test ends. It returns the address.
func serveUDP(t *testing.T, handle func(pc net.PacketConn, from net.Addr, req []byte)) string {
	t.Helper()
	if wine.Detected() {
		// Go's UDP sockets fail there: wine 8 rejects the
		// WSAIoctl(SIO_UDP_NETRESET) net makes on each
		// (../shared/design/wine.md, section 3).
		t.Skip("Go's UDP sockets do not work under Wine 8")
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			handle(pc, from, buf[:n])
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String()
}

// readCall reads one record-marked call from a stream.
func readCall(c net.Conn) (xid, vers uint32, ok bool) {
	rec, err := newRecordReader(c, limits{record: 1 << 16, bytes: 1 << 20, fragments: 8}, nil).Next()
	if err != nil {
		return 0, 0, false
	}
	xid, prog, vers, proc, ok := parseCall(rec)
	return xid, vers, ok && prog == portmapProg && proc == procDump
}

// fakePortmapper answers DUMP calls by version.
type fakePortmapper struct {
	// answers are the replies by version; the xid is filled in. A
	// version without an answer gets none.
	answers map[uint32]reply
	// frame frames a reply on TCP (default: one fragment).
	frame func(msg []byte) []byte

	mu    sync.Mutex
	asked []uint32
}

func (f *fakePortmapper) answer(xid, vers uint32) ([]byte, bool) {
	f.mu.Lock()
	f.asked = append(f.asked, vers)
	f.mu.Unlock()
	r, ok := f.answers[vers]
	if !ok {
		return nil, false
	}
	r.xid = xid
	return appendReply(nil, r), true
}

func (f *fakePortmapper) Asked() []uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint32(nil), f.asked...)
}

func (f *fakePortmapper) serveTCP(c net.Conn) {
	for {
		xid, vers, ok := readCall(c)
		if !ok {
			return
		}
		msg, ok := f.answer(xid, vers)
		if !ok {
			continue
		}
		frame := f.frame
		if frame == nil {
			frame = func(m []byte) []byte { return appendRecord(nil, m) }
		}
		if _, err := c.Write(frame(msg)); err != nil {
			return
		}
	}
}

func (f *fakePortmapper) serveUDP(pc net.PacketConn, from net.Addr, req []byte) {
	xid, _, vers, _, ok := parseCall(req)
	if !ok {
		return
	}
	if msg, ok := f.answer(xid, vers); ok {
		pc.WriteTo(msg, from)
	}
}

// serve starts f on transport and returns its address.
func (f *fakePortmapper) serve(t *testing.T, transport string) string {
	if transport == "udp" {
		return serveUDP(t, f.serveUDP)
	}
	return serveTCP(t, f.serveTCP)
}

// dumpBounded runs Dump with a timeout and fails the test if it does not
// return long after that (a hang, not a timing assertion). It also
// returns the bytes allocated meanwhile, by every goroutine.
func dumpBounded(t *testing.T, timeout time.Duration, addr string, opt Options) ([]Mapping, uint64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type result struct {
		ms  []Mapping
		err error
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ch := make(chan result, 1)
	go func() {
		ms, err := Dump(ctx, addr, opt)
		ch <- result{ms, err}
	}()
	select {
	case r := <-ch:
		runtime.ReadMemStats(&after)
		return r.ms, after.TotalAlloc - before.TotalAlloc, r.err
	case <-time.After(timeout + 30*time.Second):
		t.Fatalf("Dump(%s, %+v) did not return", addr, opt)
	}
	return nil, 0, errors.New("unreachable")
}
