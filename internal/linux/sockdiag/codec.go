package sockdiag

// This file is the portable half of the package: the inet_diag wire format,
// the port-filter bytecode, the walk over one reply datagram and the Query
// type. Nothing here touches the OS, so it builds and is tested on every
// platform. Struct layouts are copied from the kernel's UAPI headers,
// include/uapi/linux/inet_diag.h, include/uapi/linux/sock_diag.h and
// include/uapi/linux/netlink.h.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"

	"github.com/whobinds/whobinds/internal/model"
)

// ErrUnavailable is wrapped by the errors of Dial and AppendSockets when the
// kernel cannot answer at all: it has no sock_diag handler for the protocol
// and family (udp_diag and tcp_diag can be modules that are not loaded or not
// built), NETLINK_SOCK_DIAG is not supported, or the caller may not use it.
// A caller that gets it should fall back to ReadProcNet.
var ErrUnavailable = errors.New("sock_diag unavailable")

// ErrInterrupted is wrapped by the error of AppendSockets when every attempt
// at a dump was interrupted because the kernel's tables changed under it
// (NLM_F_DUMP_INTR).
var ErrInterrupted = errors.New("sock_diag dump interrupted repeatedly")

// Address families as the kernel numbers them (include/linux/socket.h).
const (
	AFInet  = 2
	AFInet6 = 10
)

// Netlink and sock_diag constants (include/uapi/linux/netlink.h,
// include/uapi/linux/sock_diag.h, include/uapi/linux/inet_diag.h).
const (
	nlmsgHdrLen = 16 // struct nlmsghdr
	nlaHdrLen   = 4  // struct nlattr

	nlmsgNoop    = 1
	nlmsgError   = 2
	nlmsgDone    = 3
	nlmsgOverrun = 4

	nlmFRequest  = 0x1
	nlmFDumpIntr = 0x10
	nlmFDump     = 0x300 // NLM_F_ROOT | NLM_F_MATCH

	nlaTypeMask = 0x3fff // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER

	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY

	ipprotoTCP = 6
	ipprotoUDP = 17
)

// Lengths of the fixed structures.
const (
	sockIDLen = 48 // struct inet_diag_sockid
	reqLen    = 56 // struct inet_diag_req_v2
	msgLen    = 72 // struct inet_diag_msg
)

// Request attributes (enum INET_DIAG_REQ_*).
const inetDiagReqBytecode = 1

// Reply attributes (enum INET_DIAG_*). Only the ones the codec decodes; the
// rest (INET_DIAG_MARK, INET_DIAG_PAD, ...) are skipped.
const (
	inetDiagShutdown = 8
	inetDiagSkV6Only = 11
	inetDiagCgroupID = 21
)

// Bytecode operations (enum INET_DIAG_BC_*).
const (
	bcJmp = 1
	bcSGE = 2
	bcSLE = 3
)

// ne is the byte order of netlink headers and of every inet_diag field
// outside inet_diag_sockid: the host's.
var ne = binary.NativeEndian

// A Query selects the sockets of one dump.
type Query struct {
	// Proto is model.TCP or model.UDP.
	Proto model.Proto
	// Family is 4 or 6.
	Family int
	// States is the set of states to return; 0 means every state.
	// Unconnected UDP sockets are in state model.Close, connected ones
	// Established. The kernel matches a TIME-WAIT socket by its substate
	// (TimeWait or FinWait2) and reports it so; SynRecv also selects the
	// request sockets of half-open connections, reported as SynRecv.
	States model.StateMask
	// Ports restricts the dump to sockets whose local port lies in any of
	// the ranges; empty means every port. The kernel applies the filter
	// (see AppendPortFilter); ReadProcNet applies it in user space.
	Ports []PortRange
}

// PortRange is an inclusive range of ports, Lo <= Hi.
type PortRange struct {
	Lo, Hi uint16
}

// Contains reports whether port p lies in r.
func (r PortRange) Contains(p uint16) bool { return r.Lo <= p && p <= r.Hi }

// String names the protocol and family, as in "tcp4" or "udp6".
func (q Query) String() string {
	return fmt.Sprintf("%s%d", q.Proto, q.Family)
}

func (q Query) validate() error {
	if q.Proto != model.TCP && q.Proto != model.UDP {
		return fmt.Errorf("query %v: protocol must be tcp or udp", q)
	}
	if q.Family != 4 && q.Family != 6 {
		return fmt.Errorf("query %v: family must be 4 or 6", q)
	}
	for _, r := range q.Ports {
		if r.Lo > r.Hi {
			return fmt.Errorf("query %v: port range %d-%d is empty", q, r.Lo, r.Hi)
		}
	}
	return nil
}

// states is the kernel's idiag_states for q.
func (q Query) states() uint32 {
	if q.States == 0 {
		return uint32(model.AllStates)
	}
	return uint32(q.States)
}

// matchPort reports whether a socket with local port p passes q's port
// filter.
func (q Query) matchPort(p uint16) bool {
	if len(q.Ports) == 0 {
		return true
	}
	for _, r := range q.Ports {
		if r.Contains(p) {
			return true
		}
	}
	return false
}

// SockID is struct inet_diag_sockid: the identity of a socket.
//
//	struct inet_diag_sockid {
//		__be16	idiag_sport;
//		__be16	idiag_dport;
//		__be32	idiag_src[4];
//		__be32	idiag_dst[4];
//		__u32	idiag_if;
//		__u32	idiag_cookie[2];
//	};
//
// Ports and addresses are big endian on the wire; the interface and the
// cookie are in host order.
type SockID struct {
	SrcPort, DstPort uint16
	// Src and Dst are IPv4 addresses for AF_INET and IPv6 addresses for
	// AF_INET6 (an IPv4-mapped address stays IPv6). In a request, an
	// invalid Addr is encoded as zeros.
	Src, Dst netip.Addr
	// IfIndex is the interface the socket is bound to, 0 for none.
	IfIndex uint32
	// Cookie is the kernel's socket cookie, idiag_cookie[0] in the low
	// 32 bits.
	Cookie uint64
}

func (id *SockID) unmarshal(b []byte, family uint8) {
	_ = b[sockIDLen-1]
	id.SrcPort = binary.BigEndian.Uint16(b[0:2])
	id.DstPort = binary.BigEndian.Uint16(b[2:4])
	if family == AFInet {
		id.Src = netip.AddrFrom4([4]byte(b[4:8]))
		id.Dst = netip.AddrFrom4([4]byte(b[20:24]))
	} else {
		id.Src = netip.AddrFrom16([16]byte(b[4:20]))
		id.Dst = netip.AddrFrom16([16]byte(b[20:36]))
	}
	id.IfIndex = ne.Uint32(b[36:40])
	id.Cookie = uint64(ne.Uint32(b[40:44])) | uint64(ne.Uint32(b[44:48]))<<32
}

func (id *SockID) append(b []byte, family uint8) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, id.SrcPort)
	b = binary.BigEndian.AppendUint16(b, id.DstPort)
	var err error
	if b, err = appendAddr(b, id.Src, family); err != nil {
		return b, fmt.Errorf("source address: %w", err)
	}
	if b, err = appendAddr(b, id.Dst, family); err != nil {
		return b, fmt.Errorf("destination address: %w", err)
	}
	b = ne.AppendUint32(b, id.IfIndex)
	b = ne.AppendUint32(b, uint32(id.Cookie))
	b = ne.AppendUint32(b, uint32(id.Cookie>>32))
	return b, nil
}

// appendAddr appends the 16-byte idiag_src/idiag_dst field. AF_INET puts the
// address in the first word and zeros in the rest.
func appendAddr(b []byte, a netip.Addr, family uint8) ([]byte, error) {
	var buf [16]byte
	switch {
	case !a.IsValid():
	case family == AFInet && a.Is4():
		a4 := a.As4()
		copy(buf[:], a4[:])
	case family == AFInet6 && a.Is6():
		buf = a.As16()
	default:
		return b, fmt.Errorf("%v does not belong to address family %d", a, family)
	}
	return append(b, buf[:]...), nil
}

// Request is struct inet_diag_req_v2, the body of a SOCK_DIAG_BY_FAMILY
// request, with its optional INET_DIAG_REQ_BYTECODE attribute.
//
//	struct inet_diag_req_v2 {
//		__u8	sdiag_family;
//		__u8	sdiag_protocol;
//		__u8	idiag_ext;
//		__u8	pad;
//		__u32	idiag_states;
//		struct inet_diag_sockid id;
//	};
type Request struct {
	Family   uint8 // AFInet or AFInet6
	Protocol uint8 // IPPROTO_TCP (6) or IPPROTO_UDP (17)
	// Ext asks for extensions: bit (INET_DIAG_x - 1) for each
	// INET_DIAG_x up to INET_DIAG_SHUTDOWN.
	Ext uint8
	// States is the set of states to dump, bit i for state i.
	States uint32
	// ID selects one socket for an exact lookup; dumps leave it zero.
	ID SockID
	// Bytecode, when not empty, is sent as INET_DIAG_REQ_BYTECODE: a
	// filter the kernel runs on every socket (see AppendPortFilter).
	Bytecode []byte
}

// AppendBinary appends the request body and its attribute to b.
func (r *Request) AppendBinary(b []byte) ([]byte, error) {
	if r.Family != AFInet && r.Family != AFInet6 {
		return b, fmt.Errorf("inet_diag_req_v2: unsupported address family %d", r.Family)
	}
	if len(r.Bytecode) > math.MaxUint16-nlaHdrLen {
		return b, fmt.Errorf("inet_diag_req_v2: bytecode of %d bytes does not fit an attribute", len(r.Bytecode))
	}
	start := len(b)
	b = append(b, r.Family, r.Protocol, r.Ext, 0)
	b = ne.AppendUint32(b, r.States)
	b, err := r.ID.append(b, r.Family)
	if err != nil {
		return b[:start], fmt.Errorf("inet_diag_req_v2: %w", err)
	}
	if len(r.Bytecode) > 0 {
		b = appendAttr(b, inetDiagReqBytecode, r.Bytecode)
	}
	return b, nil
}

// MarshalBinary returns the request body and its attribute.
func (r *Request) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, reqLen+nlaHdrLen+len(r.Bytecode)))
}

// appendAttr appends one netlink attribute, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = ne.AppendUint16(b, uint16(nlaHdrLen+len(data)))
	b = ne.AppendUint16(b, typ)
	b = append(b, data...)
	var pad [3]byte
	return append(b, pad[:align4(len(data))-len(data)]...)
}

// align4 rounds n up to a multiple of 4, as NLMSG_ALIGN and NLA_ALIGN do.
func align4(n int) int { return (n + 3) &^ 3 }

// MaxPortRanges is the most ranges AppendPortFilter accepts. The bytecode
// of n ranges takes 20n-4 bytes and must fit a netlink attribute, whose
// length is 16 bits; merge overlapping ranges before asking for more.
const MaxPortRanges = 1024

// AppendPortFilter appends to b the inet_diag bytecode of a filter that
// accepts a socket when its local port lies in any of ranges, for the
// Bytecode of a Request. An empty list appends nothing: no filter.
//
// The kernel runs the bytecode once per socket (inet_diag_bc_run in
// net/ipv4/inet_diag.c). Each instruction is a struct inet_diag_bc_op
// {code, yes, no}: a condition that, when true, moves forward by yes bytes
// and otherwise by no bytes. The socket matches when the run ends exactly
// at the end of the bytecode; a jump 4 bytes past the end rejects it. A
// port comparison (INET_DIAG_BC_S_GE, INET_DIAG_BC_S_LE) takes a second
// 4-byte op whose no field holds the port, so it is 8 bytes long and its
// yes is 8. INET_DIAG_BC_JMP always takes its no jump.
//
// Range i compiles to 16 bytes at offset 20i, followed by a 4-byte JMP
// except after the last range:
//
//	20i+0:  S_GE yes=8  no=20      {0, 0, Lo}   port < Lo: try range i+1
//	20i+8:  S_LE yes=8  no=12      {0, 0, Hi}   port > Hi: try range i+1
//	20i+16: JMP  yes=4  no=to end                in range: accept
//
// so a failed test lands on the next range, past the JMP, and after the
// last range 4 bytes past the end (reject), while a passed range falls into
// its JMP, which jumps to the end (accept). The kernel audits bytecode
// before a dump (inet_diag_bc_audit) and answers EINVAL unless every yes
// and no is a multiple of 4, at least the op's length, at most 4 past the
// end, and every no that stays inside lands on an op boundary reachable by
// following yes offsets from the start (valid_cc); the layout above meets
// all four, as ss's "sport >= :lo and sport <= :hi or ..." filters do.
func AppendPortFilter(b []byte, ranges []PortRange) ([]byte, error) {
	if len(ranges) == 0 {
		return b, nil
	}
	if len(ranges) > MaxPortRanges {
		return b, fmt.Errorf("port filter: %d ranges, at most %d", len(ranges), MaxPortRanges)
	}
	for _, r := range ranges {
		if r.Lo > r.Hi {
			return b, fmt.Errorf("port filter: range %d-%d is empty", r.Lo, r.Hi)
		}
	}
	total := 20*len(ranges) - 4
	for i, r := range ranges {
		b = appendOp(b, bcSGE, 8, 20)
		b = appendOp(b, 0, 0, r.Lo)
		b = appendOp(b, bcSLE, 8, 12)
		b = appendOp(b, 0, 0, r.Hi)
		if i < len(ranges)-1 {
			b = appendOp(b, bcJmp, 4, uint16(total-(20*i+16)))
		}
	}
	return b, nil
}

// appendOp appends a struct inet_diag_bc_op {u8 code; u8 yes; u16 no}.
func appendOp(b []byte, code, yes uint8, no uint16) []byte {
	b = append(b, code, yes)
	return ne.AppendUint16(b, no)
}

// Message is struct inet_diag_msg, the kernel's description of one socket,
// with the attributes the codec knows.
//
//	struct inet_diag_msg {
//		__u8	idiag_family;
//		__u8	idiag_state;
//		__u8	idiag_timer;
//		__u8	idiag_retrans;
//		struct inet_diag_sockid id;
//		__u32	idiag_expires;
//		__u32	idiag_rqueue;
//		__u32	idiag_wqueue;
//		__u32	idiag_uid;
//		__u32	idiag_inode;
//	};
//
// Attributes follow as netlink attributes (struct nlattr, 4-byte aligned).
// The kernel sends INET_DIAG_SHUTDOWN and (with CONFIG_SOCK_CGROUP_DATA)
// INET_DIAG_CGROUP_ID for every full socket, and INET_DIAG_SKV6ONLY for
// AF_INET6 sockets in state LISTEN or CLOSE only (inet_diag_msg_attrs_fill),
// so an established IPv6 socket's V6Only is Unknown. Linux 6.18 also sends
// INET_DIAG_SOCKOPT, and INET_DIAG_MARK to a CAP_NET_ADMIN caller; those
// are skipped. TIME-WAIT and SYN-RECV entries carry none of the decoded
// attributes and have UID and Inode 0.
type Message struct {
	Family  uint8 // AFInet or AFInet6
	State   uint8 // TCP state numbered as in include/net/tcp_states.h
	Timer   uint8 // pending timer: 0 none, 1 retransmit, 2 keepalive, 3 TIME-WAIT, 4 zero window probe
	Retrans uint8
	ID      SockID
	// Expires is when the pending timer fires, in milliseconds from now.
	Expires uint32
	// RQueue and WQueue are the bytes queued to read and to send; for a
	// TCP listener, the connections waiting to be accepted and the
	// backlog limit.
	RQueue, WQueue uint32
	// UID is the creator's user ID as seen from the dumping socket's user
	// namespace.
	UID   uint32
	Inode uint32

	// V6Only is INET_DIAG_SKV6ONLY: Yes or No when the kernel sent it,
	// Unknown otherwise.
	V6Only model.Tristate
	// Shutdown is INET_DIAG_SHUTDOWN, the socket's sk_shutdown: bit 0 no
	// more receives, bit 1 no more sends. Valid when HasShutdown.
	Shutdown    uint8
	HasShutdown bool
	// CgroupID is INET_DIAG_CGROUP_ID, the ID of the cgroup v2 the socket
	// was created in; 0 when absent (no cgroup has ID 0).
	CgroupID uint64
}

// UnmarshalBinary decodes an inet_diag_msg and its attributes from b,
// replacing all of m. Unknown attributes are skipped; a message shorter
// than its fixed part, an attribute whose length lies, or an address family
// other than AF_INET and AF_INET6 is an error. It does not allocate.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) < msgLen {
		return fmt.Errorf("inet_diag_msg: %d bytes, want at least %d: %w", len(b), msgLen, io.ErrUnexpectedEOF)
	}
	family := b[0]
	if family != AFInet && family != AFInet6 {
		return fmt.Errorf("inet_diag_msg: unsupported address family %d", family)
	}
	*m = Message{
		Family:  family,
		State:   b[1],
		Timer:   b[2],
		Retrans: b[3],
		Expires: ne.Uint32(b[52:56]),
		RQueue:  ne.Uint32(b[56:60]),
		WQueue:  ne.Uint32(b[60:64]),
		UID:     ne.Uint32(b[64:68]),
		Inode:   ne.Uint32(b[68:72]),
	}
	m.ID.unmarshal(b[4:4+sockIDLen], family)

	attrs := b[msgLen:]
	for off := msgLen; len(attrs) > 0; {
		if len(attrs) < nlaHdrLen {
			return fmt.Errorf("inet_diag_msg: %d stray bytes at offset %d: %w", len(attrs), off, io.ErrUnexpectedEOF)
		}
		l := int(ne.Uint16(attrs[0:2]))
		typ := ne.Uint16(attrs[2:4]) & nlaTypeMask
		if l < nlaHdrLen || l > len(attrs) {
			return fmt.Errorf("inet_diag_msg: attribute %d at offset %d: length %d, %d bytes left", typ, off, l, len(attrs))
		}
		data := attrs[nlaHdrLen:l]
		switch typ {
		case inetDiagShutdown:
			if len(data) < 1 {
				return fmt.Errorf("inet_diag_msg: INET_DIAG_SHUTDOWN at offset %d: empty", off)
			}
			m.Shutdown, m.HasShutdown = data[0], true
		case inetDiagSkV6Only:
			if len(data) < 1 {
				return fmt.Errorf("inet_diag_msg: INET_DIAG_SKV6ONLY at offset %d: empty", off)
			}
			m.V6Only = model.Bool(data[0] != 0)
		case inetDiagCgroupID:
			if len(data) < 8 {
				return fmt.Errorf("inet_diag_msg: INET_DIAG_CGROUP_ID at offset %d: %d bytes, want 8", off, len(data))
			}
			m.CgroupID = ne.Uint64(data)
		}
		// The last attribute may lack its padding.
		next := min(align4(l), len(attrs))
		attrs = attrs[next:]
		off += next
	}
	return nil
}

// AppendBinary appends the message and the attributes it holds, in the
// order the kernel sends them.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	if m.Family != AFInet && m.Family != AFInet6 {
		return b, fmt.Errorf("inet_diag_msg: unsupported address family %d", m.Family)
	}
	start := len(b)
	b = append(b, m.Family, m.State, m.Timer, m.Retrans)
	b, err := m.ID.append(b, m.Family)
	if err != nil {
		return b[:start], fmt.Errorf("inet_diag_msg: %w", err)
	}
	b = ne.AppendUint32(b, m.Expires)
	b = ne.AppendUint32(b, m.RQueue)
	b = ne.AppendUint32(b, m.WQueue)
	b = ne.AppendUint32(b, m.UID)
	b = ne.AppendUint32(b, m.Inode)
	if m.HasShutdown {
		b = appendAttr(b, inetDiagShutdown, []byte{m.Shutdown})
	}
	switch m.V6Only {
	case model.Yes:
		b = appendAttr(b, inetDiagSkV6Only, []byte{1})
	case model.No:
		b = appendAttr(b, inetDiagSkV6Only, []byte{0})
	}
	if m.CgroupID != 0 {
		b = appendAttr(b, inetDiagCgroupID, ne.AppendUint64(nil, m.CgroupID))
	}
	return b, nil
}

// MarshalBinary returns the message and its attributes.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, msgLen+24))
}

// Socket converts m to a model.Socket of protocol proto (inet_diag_msg does
// not carry the protocol: it is the one the request asked for).
//
// Local keeps the family of the message: an IPv4 address for AF_INET, an
// IPv6 address for AF_INET6, where an IPv4-mapped address stays mapped.
// Remote is the zero AddrPort when the peer is the unspecified address with
// port 0, as for listeners and unconnected UDP sockets. V6Only is set only
// for AF_INET6 and only when the kernel said.
func (m *Message) Socket(proto model.Proto) model.Socket {
	s := model.Socket{
		Proto:   proto,
		Local:   netip.AddrPortFrom(m.ID.Src, m.ID.SrcPort),
		State:   model.State(m.State),
		Inode:   uint64(m.Inode),
		UID:     m.UID,
		RecvQ:   m.RQueue,
		SendQ:   m.WQueue,
		IfIndex: m.ID.IfIndex,
	}
	s.Remote = remote(m.ID.Dst, m.ID.DstPort)
	if m.Family == AFInet6 {
		s.V6Only = m.V6Only
	}
	return s
}

// remote returns the peer address, or the zero AddrPort when there is none.
func remote(a netip.Addr, port uint16) netip.AddrPort {
	if port == 0 && a.IsUnspecified() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, port)
}

// appendDumpRequest appends a complete SOCK_DIAG_BY_FAMILY dump request,
// netlink header included, with sequence number seq.
func appendDumpRequest(b []byte, seq uint32, r *Request) ([]byte, error) {
	start := len(b)
	b = ne.AppendUint32(b, 0) // nlmsg_len, set below
	b = ne.AppendUint16(b, sockDiagByFamily)
	b = ne.AppendUint16(b, nlmFRequest|nlmFDump)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0) // nlmsg_pid: 0, the kernel fills in the port
	b, err := r.AppendBinary(b)
	if err != nil {
		return b[:start], err
	}
	ne.PutUint32(b[start:], uint32(len(b)-start))
	return b, nil
}

// replyStatus is what one datagram of a dump reply said about the dump.
type replyStatus struct {
	// done is set when the datagram ended the dump with NLMSG_DONE or
	// NLMSG_ERROR.
	done bool
	// interrupted is set when a message carried NLM_F_DUMP_INTR: the
	// kernel's tables changed during the dump, which may have missed or
	// repeated sockets.
	interrupted bool
	// errno is the positive error number of an NLMSG_ERROR, or of an
	// NLMSG_DONE whose status is negative; 0 for success.
	errno uint32
}

// appendReply decodes one datagram b of the reply to the dump request with
// sequence number seq, appending a model.Socket of protocol proto in
// namespace ns for each socket. Messages with another sequence number are
// leftovers of an abandoned request and are skipped. m is scratch space, so
// the walk does not allocate.
func appendReply(dst []model.Socket, b []byte, seq uint32, proto model.Proto, ns model.NetNS, m *Message) ([]model.Socket, replyStatus, error) {
	var st replyStatus
	for off := 0; len(b) > 0; {
		if len(b) < nlmsgHdrLen {
			return dst, st, fmt.Errorf("netlink message at offset %d: %d bytes, want a %d-byte header: %w", off, len(b), nlmsgHdrLen, io.ErrUnexpectedEOF)
		}
		l := ne.Uint32(b[0:4])
		typ := ne.Uint16(b[4:6])
		flags := ne.Uint16(b[6:8])
		mseq := ne.Uint32(b[8:12])
		if l < nlmsgHdrLen || uint64(l) > uint64(len(b)) {
			return dst, st, fmt.Errorf("netlink message at offset %d: length %d, %d bytes left", off, l, len(b))
		}
		body := b[nlmsgHdrLen:l]
		next := min(align4(int(l)), len(b))
		b = b[next:]
		off += next

		if mseq != seq {
			continue
		}
		if flags&nlmFDumpIntr != 0 {
			st.interrupted = true
		}
		switch typ {
		case sockDiagByFamily:
			if err := m.UnmarshalBinary(body); err != nil {
				return dst, st, fmt.Errorf("netlink message at offset %d: %w", off-next, err)
			}
			dst = append(dst, m.Socket(proto))
			dst[len(dst)-1].NetNS = ns
		case nlmsgNoop:
		case nlmsgError, nlmsgDone:
			if len(body) < 4 {
				if typ == nlmsgDone {
					// Old kernels end a dump with an empty NLMSG_DONE.
					st.done = true
					return dst, st, nil
				}
				return dst, st, fmt.Errorf("netlink error message at offset %d: %d bytes: %w", off-next, len(body), io.ErrUnexpectedEOF)
			}
			code := int32(ne.Uint32(body[0:4]))
			if typ == nlmsgError && code == 0 {
				continue // an acknowledgement, not an end
			}
			st.done = true
			if code < 0 {
				st.errno = uint32(-int64(code))
			} else if typ == nlmsgError {
				st.errno = uint32(code)
			}
			return dst, st, nil
		case nlmsgOverrun:
			return dst, st, fmt.Errorf("netlink message at offset %d: NLMSG_OVERRUN: data lost", off-next)
		default:
			return dst, st, fmt.Errorf("netlink message at offset %d: unexpected type %d", off-next, typ)
		}
	}
	return dst, st, nil
}
