package oncrpc

// This file holds the encoders the tests need and the package does not:
// XDR booleans and strings, the two DUMP result lists, reply messages,
// multi-fragment records and universal addresses.

import (
	"net/netip"
	"strconv"
	"strings"
)

func appendBool(dst []byte, v bool) []byte {
	if v {
		return appendUint32(dst, 1)
	}
	return appendUint32(dst, 0)
}

func appendString(dst []byte, s string) []byte { return appendOpaque(dst, []byte(s)) }

// appendPmapList encodes ms as a pmaplist: the inverse of decodePmapList
// for the netids it produces.
func appendPmapList(dst []byte, ms []Mapping) []byte {
	for _, m := range ms {
		dst = appendBool(dst, true)
		dst = appendUint32(dst, m.Program)
		dst = appendUint32(dst, m.Version)
		var prot uint64
		switch m.Netid {
		case "tcp":
			prot = ipprotoTCP
		case "udp":
			prot = ipprotoUDP
		default:
			prot, _ = strconv.ParseUint(strings.TrimPrefix(m.Netid, "proto-"), 10, 32)
		}
		dst = appendUint32(dst, uint32(prot))
		dst = appendUint32(dst, uint32(m.Port))
	}
	return appendBool(dst, false)
}

// appendRpcbList encodes ms as an rpcblist (Port is not on the wire).
func appendRpcbList(dst []byte, ms []Mapping) []byte {
	for _, m := range ms {
		dst = appendBool(dst, true)
		dst = appendUint32(dst, m.Program)
		dst = appendUint32(dst, m.Version)
		dst = appendString(dst, m.Netid)
		dst = appendString(dst, m.Addr)
		dst = appendString(dst, m.Owner)
	}
	return appendBool(dst, false)
}

// appendReply encodes r, with an AUTH_NONE verifier when accepted.
func appendReply(dst []byte, r reply) []byte {
	dst = appendUint32(dst, r.xid)
	dst = appendUint32(dst, msgReply)
	if r.denied {
		dst = appendUint32(dst, replyDenied)
		dst = appendUint32(dst, r.reject)
		switch r.reject {
		case rejectRPCMismatch:
			dst = appendUint32(dst, r.low)
			dst = appendUint32(dst, r.high)
		case rejectAuthError:
			dst = appendUint32(dst, r.auth)
		}
		return dst
	}
	dst = appendUint32(dst, replyAccepted)
	dst = appendUint32(dst, authNone)
	dst = appendOpaque(dst, nil)
	dst = appendUint32(dst, uint32(r.accept))
	switch r.accept {
	case success:
		dst = append(dst, r.results...)
	case progMismatch:
		dst = appendUint32(dst, r.low)
		dst = appendUint32(dst, r.high)
	}
	return dst
}

// appendFragments encodes payload as one record cut into fragments of the
// given sizes, the remainder in a last fragment.
func appendFragments(dst, payload []byte, sizes ...int) []byte {
	for _, n := range sizes {
		n = min(n, len(payload))
		dst = appendUint32(dst, uint32(n))
		dst = append(dst, payload[:n]...)
		payload = payload[n:]
	}
	return appendRecord(dst, payload)
}

// formatUniversalAddr is the inverse of ParseUniversalAddr.
func formatUniversalAddr(ap netip.AddrPort) string {
	return ap.Addr().String() + "." + strconv.Itoa(int(ap.Port()>>8)) + "." + strconv.Itoa(int(ap.Port()&0xff))
}

// parseCall decodes a call header as appendCall writes it, for fake
// servers. ok is false for anything else.
func parseCall(b []byte) (xid, prog, vers, proc uint32, ok bool) {
	d := &xdrDecoder{b: b}
	xid = d.Uint32()
	mtype := d.Uint32()
	rpcvers := d.Uint32()
	prog, vers, proc = d.Uint32(), d.Uint32(), d.Uint32()
	d.Uint32()
	d.Opaque(maxAuthBody)
	d.Uint32()
	d.Opaque(maxAuthBody)
	return xid, prog, vers, proc, d.Err() == nil && mtype == msgCall && rpcvers == rpcVersion
}
