package probe

// This file holds the DCE/RPC question: a bind to the endpoint mapper
// interface and the decoding of the answer (C706 chapter 12, [MS-RPCE]
// 2.2.2; the bind is the 72-byte golden vector of
// shared/design/windows.md 5.4). Any connection-oriented DCE/RPC server
// answers a bind with bind_ack or bind_nak, whether or not it serves the
// endpoint mapper, so the answer identifies the protocol; the endpoint
// map (package dcerpc) then says which interfaces live on the port.

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// DCERPCInfo is what a DCE/RPC server answered to a bind.
type DCERPCInfo struct {
	// Reply is the PDU type of the answer: "bind_ack", "bind_nak" or
	// "fault".
	Reply string `json:"reply"`
	// Accepted is true when the server accepted the endpoint mapper
	// interface: the port is an endpoint mapper (TCP 135).
	Accepted bool `json:"accepted"`
	// Reason is why the bind was not accepted, as the server put it.
	Reason string `json:"reason,omitempty"`
	// SecondaryAddr is the port the server names in its bind_ack ("135").
	SecondaryAddr string `json:"secondary_address,omitempty"`
	// MaxXmit and MaxRecv are the fragment sizes the server chose.
	MaxXmit int `json:"max_xmit_frag,omitempty"`
	MaxRecv int `json:"max_recv_frag,omitempty"`
	// Interfaces are the interfaces the host's endpoint mapper (TCP 135)
	// registers on this port, named where known ("MS-SAMR (samr)"),
	// else as "UUID vMAJOR.MINOR".
	Interfaces []string `json:"interfaces"`
	// MapEntries is how many entries the endpoint map had, 0 when it
	// could not be read; MapError says why not.
	MapEntries int    `json:"map_entries"`
	MapError   string `json:"map_error,omitempty"`
}

// dceBind binds call 1 to the endpoint mapper v3.0 with NDR v2.0,
// max_xmit_frag and max_recv_frag 4280.
var dceBind = mustHex("05000b03100000004800000001000000b810b8100000000001000000000001000883afe11f5dc91191a408002b14a0fa03000000045d888aeb1cc9119fe808002b10486002000000")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// PDU types (C706 12.6.4).
const (
	dceFault   = 3
	dceBindAck = 12
	dceBindNak = 13
)

// dceHeaderLen is the common header of a connection-oriented PDU.
const dceHeaderLen = 16

// dceMaxReply bounds the bind answer the probe reads; a bind_ack is
// about 60 bytes.
const dceMaxReply = 1024

var errNotDCERPC = errors.New("not a DCE/RPC reply")

// dceFragLen returns the length of the PDU that starts b, when b starts
// like a connection-oriented DCE/RPC PDU (version 5.0 or 5.1).
func dceFragLen(b []byte) (int, error) {
	if len(b) >= 1 && b[0] != 5 || len(b) >= 2 && b[1] > 1 {
		return 0, errNotDCERPC
	}
	if len(b) < dceHeaderLen {
		return 0, io.ErrUnexpectedEOF
	}
	n := int(dceOrder(b).Uint16(b[8:]))
	if n < dceHeaderLen {
		return 0, fmt.Errorf("%w: frag_length %d", errNotDCERPC, n)
	}
	return n, nil
}

// dceOrder is the integer representation the PDU's drep names.
func dceOrder(b []byte) binary.ByteOrder {
	if b[4]&0xf0 == 0 {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// parseBindReply decodes the answer to a bind. It returns
// io.ErrUnexpectedEOF when b holds only part of the PDU.
func parseBindReply(b []byte) (*DCERPCInfo, error) {
	n, err := dceFragLen(b)
	if err != nil {
		return nil, err
	}
	if len(b) < n {
		return nil, io.ErrUnexpectedEOF
	}
	b = b[:n]
	order := dceOrder(b)
	d := &DCERPCInfo{Interfaces: []string{}}
	switch b[2] {
	case dceBindAck:
		d.Reply = "bind_ack"
		// max_xmit u16, max_recv u16, assoc_group u32, sec_addr_len u16.
		const secAddrOff = dceHeaderLen + 10
		if len(b) < secAddrOff {
			return nil, fmt.Errorf("%w: bind_ack of %d bytes", errNotDCERPC, len(b))
		}
		d.MaxXmit = int(order.Uint16(b[16:]))
		d.MaxRecv = int(order.Uint16(b[18:]))
		l := int(order.Uint16(b[secAddrOff-2:]))
		if len(b) < secAddrOff+l {
			return nil, fmt.Errorf("%w: secondary address of %d bytes in a bind_ack of %d", errNotDCERPC, l, len(b))
		}
		addr, _, _ := cutNUL(b[secAddrOff : secAddrOff+l])
		d.SecondaryAddr = Clean(addr, 64)
		off := secAddrOff + l
		off += (4 - off%4) % 4 // aligned from the start of the PDU
		// n_results u8, 3 reserved, then result u16, reason u16,
		// transfer syntax (20 bytes) per result.
		if len(b) < off+8 || b[off] == 0 {
			return nil, fmt.Errorf("%w: bind_ack without a result", errNotDCERPC)
		}
		result, reason := order.Uint16(b[off+4:]), order.Uint16(b[off+6:])
		d.Accepted = result == 0
		if !d.Accepted {
			d.Reason = contextResult(result, reason)
		}
	case dceBindNak:
		d.Reply = "bind_nak"
		if len(b) < dceHeaderLen+2 {
			return nil, fmt.Errorf("%w: bind_nak of %d bytes", errNotDCERPC, len(b))
		}
		d.Reason = rejectReason(order.Uint16(b[dceHeaderLen:]))
	case dceFault:
		d.Reply = "fault"
		// alloc_hint u32, p_cont_id u16, cancel_count u8, reserved u8,
		// status u32.
		if len(b) < dceHeaderLen+12 {
			return nil, fmt.Errorf("%w: fault of %d bytes", errNotDCERPC, len(b))
		}
		d.Reason = fmt.Sprintf("fault status 0x%08x", order.Uint32(b[dceHeaderLen+8:]))
	default:
		return nil, fmt.Errorf("%w: PDU type %d in answer to a bind", errNotDCERPC, b[2])
	}
	return d, nil
}

// contextResult explains a presentation context result that is not an
// acceptance (C706 12.6.3.1: p_cont_def_result_t, p_provider_reason_t).
func contextResult(result, reason uint16) string {
	results := [...]string{"acceptance", "user rejection", "provider rejection", "negotiate ack"}
	reasons := [...]string{"reason not specified", "abstract syntax not supported",
		"proposed transfer syntaxes not supported", "local limit exceeded"}
	r := fmt.Sprintf("result %d", result)
	if int(result) < len(results) {
		r = results[result]
	}
	if int(reason) < len(reasons) {
		return r + ": " + reasons[reason]
	}
	return fmt.Sprintf("%s: reason %d", r, reason)
}

// rejectReason names a bind_nak provider_reject_reason (C706 12.6.4.4).
func rejectReason(r uint16) string {
	names := [...]string{
		"reason not specified", "temporary congestion", "local limit exceeded",
		"called paddr unknown", "protocol version not supported",
		"default context not supported", "user data not readable",
		"no psap available", "authentication type not recognized", "invalid checksum",
	}
	if int(r) < len(names) {
		return names[r]
	}
	return fmt.Sprintf("reason %d", r)
}
