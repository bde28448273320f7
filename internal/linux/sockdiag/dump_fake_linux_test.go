package sockdiag

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/model"
)

// The tests in this file run the dump loop against a fake kernel on the
// other end of a datagram socket pair, for the replies a real kernel cannot
// be made to send on demand: interrupted dumps, truncated datagrams and
// broken messages. Everything the real kernel can show is tested against it
// in dump_linux_test.go.

// fakeKernel answers each dump request with the datagrams reply returns
// for it, attempt counting from 0, with the request's sequence number.
func fakeKernel(t *testing.T, reply func(attempt int, seq uint32) [][]byte) *Conn {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "conn"), os.NewFile(uintptr(fds[1]), "kernel")
	rc, err := ours.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(rc, ours, model.NetNS{Inode: 99})
	t.Cleanup(func() { c.Close() })

	done := make(chan struct{})
	t.Cleanup(func() {
		theirs.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for attempt := 0; ; attempt++ {
			n, err := theirs.Read(buf)
			if err != nil {
				return
			}
			req := buf[:n]
			if n < nlmsgHdrLen+reqLen || ne.Uint16(req[4:6]) != sockDiagByFamily || ne.Uint16(req[6:8]) != nlmFRequest|nlmFDump {
				t.Errorf("fake kernel: not a dump request: % x", req)
				return
			}
			for _, d := range reply(attempt, ne.Uint32(req[8:12])) {
				if _, err := theirs.Write(d); err != nil {
					t.Errorf("fake kernel: %v", err)
					return
				}
			}
		}
	}()
	return c
}

func sockMsg(inode uint32) []byte {
	return rawMsg{family: AFInet, state: 10, sport: 80, src: []byte{127, 0, 0, 1}, inode: inode}.bytes()
}

const multi = 2

func TestDumpRetriesInterrupted(t *testing.T) {
	c := fakeKernel(t, func(attempt int, seq uint32) [][]byte {
		if attempt < 2 {
			return [][]byte{
				nlmsg(20, multi, seq, sockMsg(1)),
				cat(nlmsg(20, multi|nlmFDumpIntr, seq, sockMsg(2)), nlmsg(nlmsgDone, multi|nlmFDumpIntr, seq, errBody(0))),
			}
		}
		return [][]byte{cat(nlmsg(20, multi, seq, sockMsg(3)), nlmsg(20, multi, seq, sockMsg(4)), nlmsg(nlmsgDone, multi, seq, errBody(0)))}
	})
	got, err := c.AppendSockets([]model.Socket{{Inode: 7}}, Query{Proto: model.TCP, Family: 4})
	if err != nil {
		t.Fatalf("AppendSockets = %v", err)
	}
	if ino := inodes(got); len(ino) != 3 || ino[0] != 7 || ino[1] != 3 || ino[2] != 4 {
		t.Errorf("AppendSockets inodes = %v; want [7 3 4]: the prefix and only the third attempt's sockets", ino)
	}
	if got[1].NetNS.Inode != 99 {
		t.Errorf("NetNS.Inode = %d; want the Conn's, 99", got[1].NetNS.Inode)
	}
}

func TestDumpInterruptedEveryTime(t *testing.T) {
	var attempts atomic.Int32 // the fake kernel runs on its own goroutine
	c := fakeKernel(t, func(attempt int, seq uint32) [][]byte {
		attempts.Store(int32(attempt + 1))
		return [][]byte{cat(nlmsg(20, multi|nlmFDumpIntr, seq, sockMsg(1)), nlmsg(nlmsgDone, multi, seq, errBody(0)))}
	})
	got, err := c.AppendSockets([]model.Socket{{Inode: 7}}, Query{Proto: model.UDP, Family: 4})
	if !errors.Is(err, ErrInterrupted) {
		t.Errorf("AppendSockets = %v; want ErrInterrupted", err)
	}
	if ino := inodes(got); len(ino) != 1 || ino[0] != 7 {
		t.Errorf("AppendSockets inodes = %v; want the prefix [7] back", ino)
	}
	if n := attempts.Load(); n != maxDumpAttempts {
		t.Errorf("the fake kernel saw %d requests; want %d", n, maxDumpAttempts)
	}
}

func TestDumpBrokenReplies(t *testing.T) {
	tests := []struct {
		name  string
		first [][]byte // the reply to the first request, seq 1
		want  string
		errno error
	}{
		{
			name:  "error before any socket",
			first: [][]byte{nlmsg(nlmsgError, 0, 1, cat(errBody(-int32(unix.EPROTONOSUPPORT)), make([]byte, 16)))},
			want:  "sock_diag unavailable",
			errno: unix.EPROTONOSUPPORT,
		},
		{
			name:  "failed dump after some sockets",
			first: [][]byte{nlmsg(20, multi, 1, sockMsg(1)), nlmsg(nlmsgDone, multi, 1, errBody(-int32(unix.EBUSY)))},
			want:  "device or resource busy",
			errno: unix.EBUSY,
		},
		{
			name: "broken message, then the rest of the dump",
			first: [][]byte{
				cat(nlmsg(20, multi, 1, sockMsg(1)), nlmsg(20, multi, 1, sockMsg(2)[:50])),
				nlmsg(20, multi, 1, sockMsg(3)),
				nlmsg(nlmsgDone, multi, 1, errBody(0)),
			},
			want: "50 bytes, want at least 72",
		},
		{
			name: "datagram larger than the buffer",
			first: [][]byte{
				cat(nlmsg(20, multi, 1, sockMsg(1)), nlmsg(20, multi, 1, sockMsg(2)), nlmsg(20, multi, 1, sockMsg(3))),
				nlmsg(nlmsgDone, multi, 1, errBody(0)),
			},
			want: "exceeds the 200-byte buffer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeKernel(t, func(attempt int, seq uint32) [][]byte {
				if attempt == 0 {
					return tt.first
				}
				return [][]byte{cat(nlmsg(20, multi, seq, sockMsg(10)), nlmsg(nlmsgDone, multi, seq, errBody(0)))}
			})
			c.buf = c.buf[:200]
			got, err := c.AppendSockets(nil, Query{Proto: model.TCP, Family: 4})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AppendSockets = %v; want an error containing %q", err, tt.want)
			}
			if tt.errno != nil && !errors.Is(err, tt.errno) {
				t.Errorf("AppendSockets = %v; want it to wrap %v", err, tt.errno)
			}
			if len(got) != 0 {
				t.Errorf("AppendSockets returned %d sockets with its error; want none", len(got))
			}
			// What is left of the broken dump is drained: the next dump
			// sees only its own reply.
			got, err = c.AppendSockets(nil, Query{Proto: model.TCP, Family: 4})
			if err != nil {
				t.Fatalf("second AppendSockets = %v", err)
			}
			if ino := inodes(got); len(ino) != 1 || ino[0] != 10 {
				t.Errorf("second AppendSockets inodes = %v; want [10]", ino)
			}
		})
	}
}
