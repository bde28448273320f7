package dcerpc

// This file holds Lookup and the loop it runs: bind, then ept_lookup until
// the server says there is no more, reassembling fragments, within Limits.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// Errors Lookup wraps; compare with errors.Is.
var (
	// ErrNotRPC: the server speaks something else (HTTP on 135, say).
	ErrNotRPC = errors.New("not a DCE/RPC server")
	// ErrRejected: the server refused the bind (bind_nak, or a bind_ack
	// that does not accept the endpoint mapper).
	ErrRejected = errors.New("bind rejected")
	// ErrFault: the server answered with a fault PDU, or ept_lookup
	// returned an error status; the status is in the message.
	ErrFault = errors.New("DCE/RPC fault")
	// ErrLimit: the server made the client exceed one of its Limits.
	ErrLimit = errors.New("limit exceeded")
	// ErrMalformed: the server speaks DCE/RPC but sent something that does
	// not decode (a truncated tower, lengths that do not add up).
	ErrMalformed = errors.New("malformed reply")
)

// DefaultTimeout bounds a Lookup whose context has no deadline.
const DefaultTimeout = 5 * time.Second

// Limits bound what a server may make the client do. A field that is zero
// or negative takes its default.
type Limits struct {
	// MaxFragment is the most bytes one PDU fragment may have, headers
	// included (default 65536). The client also asks the server not to
	// send fragments larger than min(4280, MaxFragment).
	MaxFragment int
	// MaxBytes is the most bytes the client reads from the server in all,
	// bind_ack and every lookup reply included (default 4 MiB).
	MaxBytes int
	// MaxEntries is the most entries in total (default 10000).
	MaxEntries int
	// MaxCalls is the most ept_lookup calls (default 200).
	MaxCalls int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxFragment, 65536)
	def(&l.MaxBytes, 4<<20)
	def(&l.MaxEntries, 10000)
	def(&l.MaxCalls, 200)
	return l
}

// bindFrag is the max_xmit_frag and max_recv_frag Impacket and Windows
// clients offer.
const bindFrag = 4280

// Lookup connects to addr ("host:135"), binds to the endpoint mapper
// without authentication and calls ept_lookup (max_ents 500) until the
// entry handle is zero or the status is ept_s_not_registered, which Samba
// sends with the last entries or on an extra empty reply. It returns the
// entries in the server's order.
//
// ctx's deadline applies to every read and write; a ctx without one gets
// DefaultTimeout. Cancelling ctx ends the lookup at once.
//
// Errors are one line and name addr. They wrap ErrNotRPC, ErrRejected,
// ErrFault, ErrLimit, ErrMalformed, the dial error (connection refused,
// host unreachable), or ctx's error when it ended the lookup. On ErrLimit
// the entries decoded before the limit was hit are returned with the
// error; on other errors the entries are nil.
func Lookup(ctx context.Context, addr string, lim Limits) ([]Entry, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint mapper at %s: %w", addr, err)
	}
	defer nc.Close()
	deadline, _ := ctx.Deadline()
	if err := nc.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("endpoint mapper at %s: %w", addr, err)
	}
	// Cancellation interrupts a blocked read or write.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	// Reads go through a buffer so that a fragment's header and body
	// take one system call, not two.
	s := newSession(struct {
		io.Reader
		io.Writer
	}{bufio.NewReaderSize(nc, 8192), nc}, lim)
	s.ctx = ctx
	entries, err := s.lookupAll()
	if err != nil {
		if !errors.Is(err, ErrLimit) {
			entries = nil
		}
		return entries, fmt.Errorf("endpoint mapper at %s: %w", addr, err)
	}
	return entries, nil
}

// session is one endpoint-mapper conversation over a stream. It is not
// safe for concurrent use.
type session struct {
	rw  io.ReadWriter
	lim Limits
	// ctx, when set, names the error of reads that fail because it ended.
	ctx context.Context
	// read is the bytes read so far, at most lim.MaxBytes.
	read int
	// frag holds the fragment being read; stub the stub being reassembled.
	frag, stub []byte
	callID     uint32
}

func newSession(rw io.ReadWriter, lim Limits) *session {
	return &session{rw: rw, lim: lim.withDefaults()}
}

// lookupAll runs the conversation. On ErrLimit it returns the entries it
// had decoded with the error.
func (s *session) lookupAll() ([]Entry, error) {
	frag := uint16(min(bindFrag, s.lim.MaxFragment))
	if err := s.write("bind", encodeBind(s.nextCall(), frag)); err != nil {
		return nil, err
	}
	pdu, _, err := s.readPDU("bind_ack")
	if err != nil {
		return nil, err
	}
	if err := decodeBindAck(pdu); err != nil {
		return nil, err
	}
	var entries []Entry
	var handle [handleLen]byte
	for calls := 0; ; calls++ {
		if calls == s.lim.MaxCalls {
			return entries, fmt.Errorf("%w: %d ept_lookup calls and the server still has more", ErrLimit, calls)
		}
		callID := s.nextCall()
		if err := s.write("ept_lookup", encodeRequest(callID, opLookup, encodeLookup(handle, maxEnts))); err != nil {
			return nil, err
		}
		stub, err := s.readResponse(callID)
		if err != nil {
			return entries, err
		}
		r, err := decodeLookupResponse(stub, s.lim.MaxEntries-len(entries))
		if err != nil {
			return entries, fmt.Errorf("ept_lookup reply %d: %w", calls+1, err)
		}
		entries = append(entries, r.Entries...)
		if r.Status != 0 && r.Status != statusNotRegistered {
			return nil, fmt.Errorf("%w: ept_lookup returned status %s", ErrFault, statusText(r.Status))
		}
		if r.done() {
			return entries, nil
		}
		handle = r.Handle
	}
}

func (s *session) nextCall() uint32 {
	s.callID++
	return s.callID
}

func (s *session) write(what string, b []byte) error {
	if _, err := s.rw.Write(b); err != nil {
		return s.ioErr("sending "+what, err)
	}
	return nil
}

// ioErr wraps a read or write error, naming the context's error when the
// context ended the call.
func (s *session) ioErr(op string, err error) error {
	switch {
	case s.ctx != nil && s.ctx.Err() != nil:
		err = s.ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = context.DeadlineExceeded
	case err == io.EOF:
		err = fmt.Errorf("server closed the connection: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// readPDU reads one PDU. The bytes are valid until the next read.
func (s *session) readPDU(what string) ([]byte, header, error) {
	if cap(s.frag) < headerLen {
		s.frag = make([]byte, headerLen, 1024)
	}
	hb := s.frag[:headerLen]
	if s.read+headerLen > s.lim.MaxBytes {
		return nil, header{}, fmt.Errorf("%w: more than %d bytes from the server", ErrLimit, s.lim.MaxBytes)
	}
	n, err := io.ReadFull(s.rw, hb)
	s.read += n
	if perr := checkPrefix(hb[:n]); perr != nil {
		return nil, header{}, perr
	}
	if err != nil {
		return nil, header{}, s.ioErr("reading "+what, err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, h, err
	}
	size := int(h.FragLen)
	if size > s.lim.MaxFragment {
		return nil, h, fmt.Errorf("%w: a fragment of %d bytes, %d allowed", ErrLimit, size, s.lim.MaxFragment)
	}
	if s.read+size-headerLen > s.lim.MaxBytes {
		return nil, h, fmt.Errorf("%w: more than %d bytes from the server", ErrLimit, s.lim.MaxBytes)
	}
	if cap(s.frag) < size {
		// At most MaxFragment and 64 KiB, and only once the header is in.
		nb := make([]byte, size)
		copy(nb, hb)
		s.frag = nb
	}
	b := s.frag[:size]
	n, err = io.ReadFull(s.rw, b[headerLen:])
	s.read += n
	if err != nil {
		return nil, h, s.ioErr("reading "+what, err)
	}
	return b, h, nil
}

// readResponse reads the fragments of the response to callID and returns
// their stubs joined. A fault PDU is returned as ErrFault.
func (s *session) readResponse(callID uint32) ([]byte, error) {
	s.stub = s.stub[:0]
	for first := true; ; first = false {
		b, h, err := s.readPDU("ept_lookup response")
		if err != nil {
			return nil, err
		}
		switch h.Type {
		case ptypeResponse:
		case ptypeFault:
			return nil, fmt.Errorf("ept_lookup: %w", decodeFault(b))
		default:
			return nil, fmt.Errorf("%w: PDU type %d in reply to a request", ErrMalformed, h.Type)
		}
		if h.CallID != callID {
			return nil, fmt.Errorf("%w: response to call %d, expected %d", ErrMalformed, h.CallID, callID)
		}
		if first != (h.Flags&pfcFirstFrag != 0) {
			return nil, fmt.Errorf("%w: response fragments out of order (flags 0x%02x)", ErrMalformed, h.Flags)
		}
		stub, err := responseStub(b, h)
		if err != nil {
			return nil, err
		}
		s.stub = append(s.stub, stub...)
		if h.Flags&pfcLastFrag != 0 {
			return s.stub, nil
		}
	}
}
