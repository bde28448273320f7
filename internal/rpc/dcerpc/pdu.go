package dcerpc

// This file holds the connection-oriented PDUs: the common header, bind,
// bind_ack, bind_nak, request, response and fault (C706 §12.6, [MS-RPCE]
// 2.2.2). Everything is little-endian: the client sends drep 10 00 00 00
// and refuses replies in another data representation.

import (
	"encoding/binary"
	"fmt"
)

// PDU types (C706 §12.6.4).
const (
	ptypeRequest  = 0
	ptypeResponse = 2
	ptypeFault    = 3
	ptypeBind     = 11
	ptypeBindAck  = 12
	ptypeBindNak  = 13
)

// pfc_flags bits.
const (
	pfcFirstFrag = 0x01
	pfcLastFrag  = 0x02
)

const (
	headerLen     = 16 // common header
	requestHdrLen = 24 // header + alloc_hint, p_cont_id, opnum
	respHdrLen    = 24 // header + alloc_hint, p_cont_id, cancel_count, reserved
	secTrailerLen = 8  // auth verifier header before auth_length bytes
)

var le = binary.LittleEndian

// Syntax identifiers the client binds with.
var (
	// epmUUID is the endpoint mapper interface, v3.0.
	epmUUID = mustUUID("e1af8308-5d1f-11c9-91a4-08002b14a0fa")
	// ndrUUID is the NDR transfer syntax, v2.0.
	ndrUUID = mustUUID("8a885d04-1ceb-11c9-9fe8-08002b104860")
)

// header is the common header of a connection-oriented PDU.
type header struct {
	Type    uint8
	Flags   uint8
	FragLen uint16
	AuthLen uint16
	CallID  uint32
}

// checkPrefix tells whether the first bytes a server sent can start a
// connection-oriented DCE/RPC PDU (rpc_vers 5, rpc_vers_minor 0 or 1). It
// is used on partial reads too, so that a server that sent a few bytes of
// something else and closed is reported as not speaking DCE/RPC.
func checkPrefix(b []byte) error {
	if (len(b) > 0 && b[0] != 5) || (len(b) > 1 && b[1] > 1) {
		if len(b) > 16 {
			b = b[:16]
		}
		return fmt.Errorf("%w: it sent %q", ErrNotRPC, b)
	}
	return nil
}

// parseHeader decodes the common header at the start of b.
func parseHeader(b []byte) (header, error) {
	if len(b) < headerLen {
		return header{}, fmt.Errorf("%w: PDU header of %d bytes", ErrMalformed, len(b))
	}
	if err := checkPrefix(b); err != nil {
		return header{}, err
	}
	if b[4]&0xf0 != 0x10 {
		// The NDR decoder below is little-endian only. Windows and
		// Samba answer little-endian requests in little endian.
		return header{}, fmt.Errorf("%w: big-endian data representation %x is not supported", ErrMalformed, b[4:8])
	}
	h := header{
		Type:    b[2],
		Flags:   b[3],
		FragLen: le.Uint16(b[8:]),
		AuthLen: le.Uint16(b[10:]),
		CallID:  le.Uint32(b[12:]),
	}
	if h.FragLen < headerLen {
		return header{}, fmt.Errorf("%w: frag_length %d is shorter than the header", ErrMalformed, h.FragLen)
	}
	return h, nil
}

func appendHeader(b []byte, ptype, flags uint8, fragLen uint16, callID uint32) []byte {
	b = append(b, 5, 0, ptype, flags, 0x10, 0, 0, 0)
	b = le.AppendUint16(b, fragLen)
	b = le.AppendUint16(b, 0) // auth_length
	return le.AppendUint32(b, callID)
}

// encodeBind returns a bind PDU that offers the endpoint mapper v3.0 in NDR
// v2.0 as presentation context 0, with maxFrag as both max_xmit_frag and
// max_recv_frag.
func encodeBind(callID uint32, maxFrag uint16) []byte {
	const n = 72
	b := appendHeader(make([]byte, 0, n), ptypeBind, pfcFirstFrag|pfcLastFrag, n, callID)
	b = le.AppendUint16(b, maxFrag) // max_xmit_frag
	b = le.AppendUint16(b, maxFrag) // max_recv_frag
	b = le.AppendUint32(b, 0)       // assoc_group_id
	b = append(b, 1, 0, 0, 0)       // n_context_elem, reserved
	b = le.AppendUint16(b, 0)       // p_cont_id
	b = append(b, 1, 0)             // n_transfer_syn, reserved
	b = append(b, epmUUID[:]...)    // abstract syntax
	b = le.AppendUint32(b, 3)       // v3.0
	b = append(b, ndrUUID[:]...)    // transfer syntax
	return le.AppendUint32(b, 2)    // v2.0
}

// decodeBindAck checks a bind_ack PDU (b holds the whole PDU) and returns
// an error unless the server accepted presentation context 0. A bind_nak
// is reported as ErrRejected with its reason.
func decodeBindAck(b []byte) error {
	h, err := parseHeader(b)
	if err != nil {
		return err
	}
	if int(h.FragLen) > len(b) {
		return fmt.Errorf("%w: bind_ack of %d bytes claims %d", ErrMalformed, len(b), h.FragLen)
	}
	b = b[:h.FragLen]
	switch h.Type {
	case ptypeBindAck:
	case ptypeBindNak:
		if len(b) < headerLen+2 {
			return fmt.Errorf("%w: bind_nak of %d bytes", ErrMalformed, len(b))
		}
		return fmt.Errorf("%w: bind_nak, reason %s", ErrRejected, rejectReason(le.Uint16(b[headerLen:])))
	case ptypeFault:
		return decodeFault(b)
	default:
		return fmt.Errorf("%w: PDU type %d in reply to bind", ErrMalformed, h.Type)
	}
	// max_xmit u16, max_recv u16, assoc_group u32, sec_addr_len u16.
	const secAddrOff = headerLen + 10
	if len(b) < secAddrOff {
		return fmt.Errorf("%w: bind_ack of %d bytes", ErrMalformed, len(b))
	}
	off := secAddrOff + int(le.Uint16(b[secAddrOff-2:]))
	off += (4 - off%4) % 4 // align from the start of the PDU
	// n_results u8, 3 reserved, then result u16, reason u16, syntax(20).
	if len(b) < off+4+4+20 {
		return fmt.Errorf("%w: bind_ack of %d bytes ends before its first result", ErrMalformed, len(b))
	}
	if b[off] < 1 {
		return fmt.Errorf("%w: bind_ack without results", ErrMalformed)
	}
	if result := le.Uint16(b[off+4:]); result != 0 {
		return fmt.Errorf("%w: presentation context not accepted (result %d, reason %d)",
			ErrRejected, result, le.Uint16(b[off+6:]))
	}
	return nil
}

// rejectReason names a bind_nak provider_reject_reason (C706 §12.6.4.4).
func rejectReason(r uint16) string {
	names := [...]string{
		"reason not specified", "temporary congestion", "local limit exceeded",
		"called paddr unknown", "protocol version not supported",
		"default context not supported", "user data not readable",
		"no psap available", "authentication type not recognized", "invalid checksum",
	}
	if int(r) < len(names) {
		return fmt.Sprintf("%d (%s)", r, names[r])
	}
	return fmt.Sprint(r)
}

// encodeRequest returns a single-fragment request PDU calling opnum of
// presentation context 0.
func encodeRequest(callID uint32, opnum uint16, stub []byte) []byte {
	n := requestHdrLen + len(stub)
	b := appendHeader(make([]byte, 0, n), ptypeRequest, pfcFirstFrag|pfcLastFrag, uint16(n), callID)
	b = le.AppendUint32(b, uint32(len(stub))) // alloc_hint
	b = le.AppendUint16(b, 0)                 // p_cont_id
	b = le.AppendUint16(b, opnum)
	return append(b, stub...)
}

// responseStub returns the stub bytes of one response fragment (b holds
// the whole PDU, h its decoded header).
func responseStub(b []byte, h header) ([]byte, error) {
	end := int(h.FragLen)
	if end > len(b) {
		return nil, fmt.Errorf("%w: response fragment of %d bytes claims %d", ErrMalformed, len(b), end)
	}
	if h.AuthLen > 0 {
		end -= int(h.AuthLen) + secTrailerLen
	}
	if end < respHdrLen {
		return nil, fmt.Errorf("%w: response fragment of %d bytes with auth_length %d", ErrMalformed, h.FragLen, h.AuthLen)
	}
	return b[respHdrLen:end], nil
}

// decodeFault turns a fault PDU into an error wrapping ErrFault.
func decodeFault(b []byte) error {
	if len(b) < respHdrLen+4 {
		return fmt.Errorf("%w: fault PDU of %d bytes", ErrMalformed, len(b))
	}
	return fmt.Errorf("%w: status %s", ErrFault, statusText(le.Uint32(b[respHdrLen:])))
}

// statusText formats a fault or error status, with its name when known.
func statusText(status uint32) string {
	if name := faultNames[status]; name != "" {
		return fmt.Sprintf("0x%08x (%s)", status, name)
	}
	return fmt.Sprintf("0x%08x", status)
}

// faultNames are the statuses a client of the endpoint mapper may meet
// ([MS-RPCE] 2.2.2.11 and 3.1.1.5.5; C706 appendix E).
var faultNames = map[uint32]string{
	0x00000005: "access denied",
	0x000006f7: "bad stub data",
	0x1c010002: "nca_s_op_rng_error",
	0x1c010003: "nca_s_unk_if",
	0x1c01000b: "nca_s_proto_error",
	0x1c00001b: "nca_s_fault_remote_no_memory",
	0x1c000009: "nca_s_fault_ndr",
	0x16c9a0d6: "ept_s_not_registered",
}

// mustUUID returns the wire form of a UUID: time_low, time_mid and
// time_hi_and_version little-endian, the last eight bytes as written.
func mustUUID(s string) [16]byte {
	u, err := parseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("bad UUID %q", s)
	}
	var raw [16]byte
	j := 0
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		hi, lo := unhex(s[i]), unhex(s[i+1])
		if hi < 0 || lo < 0 {
			return u, fmt.Errorf("bad UUID %q", s)
		}
		raw[j] = byte(hi<<4 | lo)
		j++
		i++
	}
	le.PutUint32(u[0:], binary.BigEndian.Uint32(raw[0:]))
	le.PutUint16(u[4:], binary.BigEndian.Uint16(raw[4:]))
	le.PutUint16(u[6:], binary.BigEndian.Uint16(raw[6:]))
	copy(u[8:], raw[8:])
	return u, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// formatUUID formats a UUID in wire form as lower-case text. b must hold
// 16 bytes.
func formatUUID(b []byte) string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}
