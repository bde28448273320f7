package oncrpc

// This file holds the RPC message headers of RFC 5531 §9: the call this
// client sends (no arguments, AUTH_NONE) and the reply it decodes.

import (
	"fmt"
	"strconv"
)

// Message constants from RFC 5531 §9.
const (
	msgCall  = 0
	msgReply = 1

	rpcVersion = 2
	authNone   = 0

	replyAccepted = 0 // MSG_ACCEPTED
	replyDenied   = 1 // MSG_DENIED

	rejectRPCMismatch = 0 // RPC_MISMATCH
	rejectAuthError   = 1 // AUTH_ERROR

	// maxAuthBody is the largest opaque_auth body (RFC 5531 §8.2).
	maxAuthBody = 400
)

// acceptStat is a MSG_ACCEPTED reply's accept_stat.
type acceptStat uint32

const (
	success      acceptStat = 0
	progUnavail  acceptStat = 1
	progMismatch acceptStat = 2
	procUnavail  acceptStat = 3
	garbageArgs  acceptStat = 4
	systemErr    acceptStat = 5
)

var acceptStatNames = [...]string{"SUCCESS", "PROG_UNAVAIL", "PROG_MISMATCH", "PROC_UNAVAIL", "GARBAGE_ARGS", "SYSTEM_ERR"}

func (s acceptStat) String() string {
	if int(s) < len(acceptStatNames) {
		return acceptStatNames[s]
	}
	return "accept_stat " + strconv.FormatUint(uint64(s), 10)
}

// authStatNames name auth_stat values (RFC 5531 §9, and §9's RPCSEC_GSS
// additions).
var authStatNames = map[uint32]string{
	0:  "AUTH_OK",
	1:  "AUTH_BADCRED",
	2:  "AUTH_REJECTEDCRED",
	3:  "AUTH_BADVERF",
	4:  "AUTH_REJECTEDVERF",
	5:  "AUTH_TOOWEAK",
	6:  "AUTH_INVALIDRESP",
	7:  "AUTH_FAILED",
	8:  "AUTH_KERB_GENERIC",
	9:  "AUTH_TIMEEXPIRE",
	10: "AUTH_TKT_FILE",
	11: "AUTH_DECODE",
	12: "AUTH_NET_ADDR",
	13: "RPCSEC_GSS_CREDPROBLEM",
	14: "RPCSEC_GSS_CTXPROBLEM",
}

func authStatString(s uint32) string {
	if n, ok := authStatNames[s]; ok {
		return n
	}
	return "auth_stat " + strconv.FormatUint(uint64(s), 10)
}

// appendCall appends a call to procedure proc of program prog, version
// vers, with AUTH_NONE credentials and verifier and no arguments.
func appendCall(dst []byte, xid, prog, vers, proc uint32) []byte {
	dst = appendUint32(dst, xid)
	dst = appendUint32(dst, msgCall)
	dst = appendUint32(dst, rpcVersion)
	dst = appendUint32(dst, prog)
	dst = appendUint32(dst, vers)
	dst = appendUint32(dst, proc)
	dst = appendUint32(dst, authNone) // cred
	dst = appendOpaque(dst, nil)
	dst = appendUint32(dst, authNone) // verf
	return appendOpaque(dst, nil)
}

// reply is a decoded reply message.
type reply struct {
	xid    uint32
	denied bool
	// accept is the accept_stat of an accepted reply.
	accept acceptStat
	// reject is the reject_stat of a denied reply.
	reject uint32
	// low and high are the versions a PROG_MISMATCH (of the program) or
	// an RPC_MISMATCH (of RPC itself) names.
	low, high uint32
	// auth is an AUTH_ERROR's auth_stat.
	auth uint32
	// results are a SUCCESS reply's results, to be decoded by procedure.
	results []byte
}

// parseReply decodes a reply message. Bytes that cannot be a reply give an
// error wrapping ErrNotRPC. The results alias b.
func parseReply(b []byte) (reply, error) {
	d := &xdrDecoder{b: b}
	var r reply
	r.xid = d.Uint32()
	mtype := d.Uint32()
	if d.Err() != nil {
		return reply{}, fmt.Errorf("%d bytes, too short for an RPC reply: %w", len(b), ErrNotRPC)
	}
	if mtype != msgReply {
		if mtype == msgCall {
			return reply{}, fmt.Errorf("a call, not a reply (an echo service?): %w", ErrNotRPC)
		}
		if isText(b[:8]) {
			return reply{}, fmt.Errorf("the answer begins %q: %w", b[:min(len(b), 16)], ErrNotRPC)
		}
		return reply{}, fmt.Errorf("message type %d, not a reply: %w", mtype, ErrNotRPC)
	}
	switch stat := d.Uint32(); stat {
	case replyAccepted:
		d.Uint32() // verifier flavor
		d.Opaque(maxAuthBody)
		r.accept = acceptStat(d.Uint32())
		switch r.accept {
		case success:
			r.results = d.Rest()
		case progMismatch:
			r.low = d.Uint32()
			r.high = d.Uint32()
		}
	case replyDenied:
		r.denied = true
		r.reject = d.Uint32()
		switch r.reject {
		case rejectRPCMismatch:
			r.low = d.Uint32()
			r.high = d.Uint32()
		case rejectAuthError:
			r.auth = d.Uint32()
		default:
			if d.Err() == nil {
				return reply{}, fmt.Errorf("reject_stat %d: %w", r.reject, ErrNotRPC)
			}
		}
	default:
		if d.Err() == nil {
			return reply{}, fmt.Errorf("reply_stat %d: %w", stat, ErrNotRPC)
		}
	}
	if err := d.Err(); err != nil {
		return reply{}, fmt.Errorf("truncated RPC reply: %w: %w", err, ErrNotRPC)
	}
	return r, nil
}
