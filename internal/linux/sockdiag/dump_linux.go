package sockdiag

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/model"
)

// recvBufSize is the size of a Conn's receive buffer. The kernel fills one
// dump datagram up to about 32 KiB (netlink_recvmsg caps max_recvmsg_len at
// SKB_WITH_OVERHEAD(32768)), so one read always takes a whole datagram.
const recvBufSize = 64 << 10

// maxDumpAttempts bounds how often AppendSockets repeats a dump the kernel
// flagged as interrupted.
const maxDumpAttempts = 4

// Conn is a NETLINK_SOCK_DIAG socket in one network namespace. It keeps its
// request and receive buffers between dumps, so a dump allocates nothing
// beyond the growth of the caller's slice.
//
// A Conn is not safe for concurrent use; open one per goroutine.
type Conn struct {
	// closer is the *netlink.Conn, which opened the socket (in the right
	// namespace) and bound it; the dumps themselves use rc directly so
	// that they read into a reused buffer.
	closer io.Closer
	rc     syscall.RawConn
	ns     model.NetNS

	seq uint32
	bc  []byte // port filter bytecode
	req []byte // the request being sent
	buf []byte // receive buffer
	msg Message

	// State of the raw read and write callbacks, bound once in Dial so
	// that passing them to rc does not allocate.
	recvFn, sendFn func(fd uintptr) bool
	n              int
	err            error
}

// Dial opens a NETLINK_SOCK_DIAG socket. netnsFD < 0 opens it in the
// caller's network namespace; otherwise netnsFD is an open file of a
// network namespace (/proc/PID/ns/net, /run/netns/NAME) and every dump
// through the Conn lists that namespace's sockets. Entering another
// namespace needs CAP_SYS_ADMIN; the file may be closed once Dial returns.
//
// The error wraps ErrUnavailable when the kernel lacks NETLINK_SOCK_DIAG or
// the caller may not open it.
func Dial(netnsFD int) (*Conn, error) {
	cfg := &netlink.Config{}
	if netnsFD >= 0 {
		fd := netnsFD
		if fd == 0 {
			// netlink.Config takes NetNS 0 to mean "the caller's
			// namespace"; give it a descriptor that cannot be mistaken.
			d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
			if err != nil {
				return nil, fmt.Errorf("opening sock_diag socket: duplicating namespace fd 0: %w", err)
			}
			defer unix.Close(d)
			fd = d
		}
		cfg.NetNS = fd
	}
	nl, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, cfg)
	if err != nil {
		if unavailable(err) {
			return nil, fmt.Errorf("opening sock_diag socket: %w: %w", ErrUnavailable, err)
		}
		return nil, fmt.Errorf("opening sock_diag socket: %w", err)
	}
	rc, err := nl.SyscallConn()
	if err != nil {
		nl.Close()
		return nil, fmt.Errorf("opening sock_diag socket: %w", err)
	}
	return newConn(rc, nl, model.NetNS{Inode: netnsInode(netnsFD)}), nil
}

// newConn builds a Conn that talks over rc and closes closer.
func newConn(rc syscall.RawConn, closer io.Closer, ns model.NetNS) *Conn {
	c := &Conn{
		closer: closer,
		rc:     rc,
		ns:     ns,
		buf:    make([]byte, recvBufSize),
		req:    make([]byte, 0, nlmsgHdrLen+reqLen+64),
	}
	c.recvFn = c.recv
	c.sendFn = c.send
	return c
}

// netnsInode returns the inode of the namespace the Conn was opened in, or
// 0 when it cannot be read.
func netnsInode(netnsFD int) uint64 {
	var st unix.Stat_t
	var err error
	if netnsFD >= 0 {
		err = unix.Fstat(netnsFD, &st)
	} else {
		err = unix.Stat("/proc/thread-self/ns/net", &st)
	}
	if err != nil {
		return 0
	}
	return st.Ino
}

// Close closes the socket.
func (c *Conn) Close() error {
	return c.closer.Close()
}

// AppendSockets dumps the sockets q selects and appends them to dst. The
// kernel applies q's state and port filters. Each socket has NetNS.Inode
// set to the Conn's namespace when it could be read; Interface, Holders,
// Hidden and Attributions are left for later stages.
//
// A dump the kernel flags as interrupted (NLM_F_DUMP_INTR) is repeated a
// few times before the error wraps ErrInterrupted. When the kernel has no
// sock_diag handler for q's protocol and family, or refuses the caller,
// the error wraps ErrUnavailable. On error dst is returned as it came.
func (c *Conn) AppendSockets(dst []model.Socket, q Query) ([]model.Socket, error) {
	if err := q.validate(); err != nil {
		return dst, err
	}
	req := Request{
		Family:   AFInet,
		Protocol: uint8(q.Proto),
		States:   q.states(),
	}
	if q.Family == 6 {
		req.Family = AFInet6
	}
	if len(q.Ports) > 0 {
		bc, err := AppendPortFilter(c.bc[:0], q.Ports)
		if err != nil {
			return dst, fmt.Errorf("sock_diag dump of %v: %w", q, err)
		}
		c.bc = bc
		req.Bytecode = bc
	}
	return c.appendDump(dst, &req, q)
}

// appendDump runs the dump of req, repeating it when interrupted.
func (c *Conn) appendDump(dst []model.Socket, req *Request, q Query) ([]model.Socket, error) {
	n0 := len(dst)
	for range maxDumpAttempts {
		var intr bool
		var err error
		dst, intr, err = c.dumpOnce(dst[:n0], req, q.Proto)
		if err != nil {
			return dst[:n0], fmt.Errorf("sock_diag dump of %v: %w", q, err)
		}
		if !intr {
			return dst, nil
		}
	}
	return dst[:n0], fmt.Errorf("sock_diag dump of %v: %w (%d attempts)", q, ErrInterrupted, maxDumpAttempts)
}

// dumpOnce sends one dump request and reads its reply to the end. It
// reports whether the kernel flagged the dump as interrupted.
func (c *Conn) dumpOnce(dst []model.Socket, req *Request, proto model.Proto) ([]model.Socket, bool, error) {
	c.seq++
	seq := c.seq
	b, err := appendDumpRequest(c.req[:0], seq, req)
	if err != nil {
		return dst, false, err
	}
	c.req = b
	if err := c.write(); err != nil {
		return dst, false, err
	}
	intr := false
	for {
		n, err := c.read()
		if err != nil {
			return dst, false, err
		}
		if n > len(c.buf) {
			c.drain(seq)
			return dst, false, fmt.Errorf("reply datagram of %d bytes exceeds the %d-byte buffer", n, len(c.buf))
		}
		var st replyStatus
		dst, st, err = appendReply(dst, c.buf[:n], seq, proto, c.ns, &c.msg)
		if err != nil {
			c.drain(seq)
			return dst, false, err
		}
		intr = intr || st.interrupted
		if st.done {
			if st.errno != 0 {
				errno := unix.Errno(st.errno)
				if unavailable(errno) {
					return dst, false, fmt.Errorf("%w: %w", ErrUnavailable, errno)
				}
				return dst, false, errno
			}
			return dst, intr, nil
		}
	}
}

// drain reads and drops the rest of the reply to seq after a broken
// datagram. The kernel refuses a new dump on the socket (EBUSY) while one
// is still running, so the reply must be read to its end.
func (c *Conn) drain(seq uint32) {
	for range 1 << 16 {
		n, err := c.read()
		if err != nil {
			return
		}
		b := c.buf[:min(n, len(c.buf))]
		for len(b) >= nlmsgHdrLen {
			l := int(ne.Uint32(b[0:4]))
			typ := ne.Uint16(b[4:6])
			if ne.Uint32(b[8:12]) == seq && (typ == nlmsgDone || typ == nlmsgError) {
				return
			}
			if l < nlmsgHdrLen || l > len(b) {
				break
			}
			b = b[min(align4(l), len(b)):]
		}
	}
}

// write sends c.req to the kernel. A netlink socket without a destination
// address sends to the kernel (port 0).
func (c *Conn) write() error {
	c.n, c.err = 0, nil
	if err := c.rc.Write(c.sendFn); err != nil {
		return fmt.Errorf("sending request: %w", err)
	}
	if c.err != nil {
		return fmt.Errorf("sending request: %w", c.err)
	}
	if c.n != len(c.req) {
		return fmt.Errorf("sending request: sent %d of %d bytes", c.n, len(c.req))
	}
	return nil
}

func (c *Conn) send(fd uintptr) bool {
	for {
		n, err := unix.Write(int(fd), c.req)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait until the socket is writable
		}
		c.n, c.err = n, err
		return true
	}
}

// read receives one datagram into c.buf and returns its full length, which
// exceeds len(c.buf) when the datagram was truncated.
func (c *Conn) read() (int, error) {
	c.n, c.err = 0, nil
	if err := c.rc.Read(c.recvFn); err != nil {
		return 0, fmt.Errorf("receiving reply: %w", err)
	}
	if c.err != nil {
		return 0, fmt.Errorf("receiving reply: %w", c.err)
	}
	return c.n, nil
}

func (c *Conn) recv(fd uintptr) bool {
	for {
		// recvfrom(2) without an address, so nothing is allocated for
		// one. MSG_TRUNC makes it return the datagram's full length.
		n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd,
			uintptr(unsafe.Pointer(&c.buf[0])), uintptr(len(c.buf)),
			unix.MSG_TRUNC, 0, 0)
		switch errno {
		case 0:
			c.n = int(n)
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait until a datagram arrives
		default:
			c.err = os.NewSyscallError("recvfrom", errno)
		}
		return true
	}
}

// unavailable reports whether err says that sock_diag cannot serve the
// caller at all, rather than that one dump failed.
func unavailable(err error) bool {
	for _, e := range []unix.Errno{
		unix.ENOENT,          // no handler for the protocol or family
		unix.EPROTONOSUPPORT, // no NETLINK_SOCK_DIAG
		unix.EAFNOSUPPORT,    // no AF_NETLINK, or no inet6
		unix.EOPNOTSUPP,
		unix.EPERM, // refused by capabilities, seccomp or an LSM
		unix.EACCES,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
