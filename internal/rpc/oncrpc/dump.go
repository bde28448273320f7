package oncrpc

// This file holds Dump's network loop: one DUMP call per version tried,
// over a fresh TCP connection per call, or over one UDP socket with
// retransmissions.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

const (
	// portmapProg is the portmapper/rpcbind program number.
	portmapProg = 100000
	// procDump is PMAPPROC_DUMP (v2) and RPCBPROC_DUMP (v3, v4).
	procDump = 4

	// udpFirstWait is how long the first UDP call waits before it is
	// sent again; each later wait doubles, all within the deadline.
	udpFirstWait = 500 * time.Millisecond
	// maxDatagram is the largest UDP payload.
	maxDatagram = 65535
)

// Dump asks the portmapper/rpcbind at addr ("host:111") for its whole
// map, in the order the server lists it. ctx's deadline applies to every
// read and write (DefaultTimeout overall when ctx has none), and
// cancelling ctx interrupts them. UDP calls are sent again, with doubling
// waits, until an answer or the deadline.
//
// Errors are one line, start with "rpcbind ADDR: ", and wrap ErrNotRPC,
// ErrVersion, ErrDenied, ErrLimit, the dial error, or the context's error
// when no answer came in time.
func Dump(ctx context.Context, addr string, opt Options) ([]Mapping, error) {
	ms, err := dump(ctx, addr, opt)
	if err != nil {
		return nil, fmt.Errorf("rpcbind %s: %w", addr, err)
	}
	return ms, nil
}

func dump(ctx context.Context, addr string, opt Options) ([]Mapping, error) {
	network, err := opt.network()
	if err != nil {
		return nil, err
	}
	versions, err := opt.versions()
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	c := &client{network: network, addr: addr, lim: opt.limits(), timeout: time.Until(deadline)}
	defer c.close()

	// refusals lists the versions that answered without the map, with
	// their accept_stat, for the error when none gave it.
	var refusals []string
	var low, high uint32
	ranged := false    // whether low and high are known
	udpTooBig := false // whether a UDP answer was SYSTEM_ERR
	for _, v := range versions {
		if ranged && (v < low || v > high) {
			continue
		}
		what := fmt.Sprintf("v%d DUMP over %s", v, network)
		r, err := c.call(ctx, what, portmapProg, v, procDump)
		if err != nil {
			return nil, err
		}
		if r.denied {
			if r.reject == rejectRPCMismatch {
				return nil, fmt.Errorf("%s: RPC_MISMATCH: the server speaks RPC versions %d to %d, not %d: %w", what, r.low, r.high, rpcVersion, ErrDenied)
			}
			return nil, fmt.Errorf("%s: AUTH_ERROR %s: %w", what, authStatString(r.auth), ErrDenied)
		}
		refusal := fmt.Sprintf("v%d %s", v, r.accept)
		switch r.accept {
		case success:
			var ms []Mapping
			if v == 2 {
				ms, err = decodePmapList(r.results, c.lim.entries)
			} else {
				ms, err = decodeRpcbList(r.results, c.lim.entries)
			}
			if errors.Is(err, ErrLimit) {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: malformed results: %w: %w", what, err, ErrNotRPC)
			}
			return ms, nil
		case progMismatch:
			low, high, ranged = r.low, r.high, true
			refusal += fmt.Sprintf(" (the server has versions %d to %d)", low, high)
		case procUnavail:
		case systemErr:
			// Over UDP, rpcbind answers SYSTEM_ERR when the map does
			// not fit in a datagram (libtirpc's 8800 bytes): try the
			// smaller entries of the next version.
			if network != "udp" {
				return nil, fmt.Errorf("%s: %s: %w", what, r.accept, ErrDenied)
			}
			udpTooBig = true
		case progUnavail:
			return nil, fmt.Errorf("%s: PROG_UNAVAIL: the server does not serve program %d: %w", what, portmapProg, ErrVersion)
		default:
			return nil, fmt.Errorf("%s: %s: %w", what, r.accept, ErrDenied)
		}
		refusals = append(refusals, refusal)
	}
	msg := "DUMP over " + network + ": " + strings.Join(refusals, ", ")
	if udpTooBig {
		return nil, fmt.Errorf("%s (is the map too large for a datagram? try tcp): %w", msg, ErrDenied)
	}
	return nil, fmt.Errorf("%s: %w", msg, ErrVersion)
}

// client makes the calls of one Dump.
type client struct {
	network, addr string
	lim           limits
	// timeout is the time Dump was given, for error messages.
	timeout time.Duration
	// read counts the bytes read from the server, against lim.bytes.
	read int
	// udp is the UDP socket, kept across calls so that a late answer to
	// an earlier call is known as one; sent are the xids sent on it.
	udp  net.Conn
	sent []uint32
}

func (c *client) close() {
	if c.udp != nil {
		c.udp.Close()
	}
}

// call makes one call with no arguments and returns the reply to it.
func (c *client) call(ctx context.Context, what string, prog, vers, proc uint32) (reply, error) {
	xid := rand.Uint32()
	msg := appendCall(nil, xid, prog, vers, proc)
	var r reply
	var err error
	if c.network == "udp" {
		r, err = c.callUDP(ctx, xid, msg)
	} else {
		r, err = c.callTCP(ctx, xid, msg)
	}
	if err != nil {
		return reply{}, c.ioError(ctx, what, err)
	}
	return r, nil
}

// ioError words an error of a call: an expired or cancelled context wins
// over the I/O error it caused.
func (c *client) ioError(ctx context.Context, what string, err error) error {
	var dial *net.OpError
	if errors.As(err, &dial) && dial.Op == "dial" && ctx.Err() == nil {
		return err
	}
	if errors.Is(err, ErrLimit) || errors.Is(err, ErrNotRPC) {
		return fmt.Errorf("%s: %w", what, err)
	}
	cerr := ctx.Err()
	if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		cerr = context.DeadlineExceeded
	}
	switch {
	case errors.Is(cerr, context.DeadlineExceeded):
		return fmt.Errorf("%s: no complete answer within %v: %w", what, c.timeout.Round(time.Millisecond), cerr)
	case cerr != nil:
		return fmt.Errorf("%s: %w", what, cerr)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// watch applies ctx's deadline to conn and interrupts conn's I/O when ctx
// is cancelled; the returned function stops the latter.
func watch(ctx context.Context, conn net.Conn) (stop func() bool) {
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// callTCP sends msg on a new connection and reads the reply record.
func (c *client) callTCP(ctx context.Context, xid uint32, msg []byte) (reply, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return reply{}, err
	}
	defer conn.Close()
	defer watch(ctx, conn)()
	if _, err := conn.Write(appendRecord(nil, msg)); err != nil {
		return reply{}, fmt.Errorf("sending the call: %w", err)
	}
	rr := newRecordReader(bufio.NewReader(conn), c.lim, &c.read)
	rec, err := rr.Next()
	if err == io.EOF {
		return reply{}, errors.New("the server closed the connection without an answer")
	}
	if err != nil {
		return reply{}, err
	}
	r, err := parseReply(rec)
	if err != nil {
		return reply{}, err
	}
	if r.xid != xid {
		return reply{}, fmt.Errorf("the reply is to call %#x, not to ours (%#x): %w", r.xid, xid, ErrNotRPC)
	}
	return r, nil
}

// callUDP sends msg until a datagram answers it or the deadline passes.
// Late answers to the Dump's earlier calls are skipped; any other
// datagram that is not the reply fails the call.
func (c *client) callUDP(ctx context.Context, xid uint32, msg []byte) (reply, error) {
	if c.udp == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "udp", c.addr)
		if err != nil {
			return reply{}, err
		}
		c.udp = conn
	}
	conn := c.udp
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	c.sent = append(c.sent, xid)
	deadline, _ := ctx.Deadline()
	buf := make([]byte, min(c.lim.record, maxDatagram)+1)
	for wait := udpFirstWait; ; wait *= 2 {
		if _, err := conn.Write(msg); err != nil {
			return reply{}, fmt.Errorf("sending the call: %w", err)
		}
		resend := time.Now().Add(wait)
		if resend.After(deadline) {
			resend = deadline
		}
		conn.SetReadDeadline(resend)
		// Set, then check: a cancellation before the line above would
		// otherwise be overwritten.
		if err := ctx.Err(); err != nil {
			return reply{}, err
		}
		for {
			n, err := conn.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil && time.Now().Before(deadline) {
				break // send again
			}
			if err != nil {
				return reply{}, err
			}
			if n > c.lim.bytes-c.read {
				return reply{}, fmt.Errorf("more than %d bytes in all: %w", c.lim.bytes, ErrLimit)
			}
			c.read += n
			if n > c.lim.record {
				return reply{}, fmt.Errorf("datagram of more than %d bytes: %w", c.lim.record, ErrLimit)
			}
			dg := buf[:n]
			if len(dg) >= 4 {
				if x := binary.BigEndian.Uint32(dg); x != xid && slices.Contains(c.sent, x) {
					continue // a late answer to an earlier call
				}
			}
			r, err := parseReply(dg)
			if err != nil {
				return reply{}, err
			}
			if r.xid != xid {
				return reply{}, fmt.Errorf("the reply is to call %#x, not to ours (%#x): %w", r.xid, xid, ErrNotRPC)
			}
			return r, nil
		}
	}
}
