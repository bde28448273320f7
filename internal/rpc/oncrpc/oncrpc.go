// Package oncrpc is a client for the ONC RPC portmapper and rpcbind
// (program 100000 on port 111): it asks a server for its whole map of
// registered RPC programs (portmapper v2 PMAPPROC_DUMP, rpcbind v3 and v4
// RPCBPROC_DUMP, RFC 1833) over TCP or UDP.
//
// The codecs — XDR (RFC 4506), record marking and the call and reply
// headers (RFC 5531), the pmaplist and rpcblist decoders and universal
// addresses — are portable and work on byte slices; dump.go holds the
// network loop. Every length on the wire is checked before use, and
// allocations are bounded by Options' limits, never by lengths a server
// claims: the server may be remote and may lie.
package oncrpc

import (
	"errors"
	"fmt"
	"time"

	"github.com/whobinds/whobinds/internal/kb"
)

// Mapping is one registration in the portmapper/rpcbind map.
type Mapping struct {
	Program uint32
	Version uint32
	// Netid is the transport: "tcp", "udp", "tcp6", "udp6", "local", ...
	// v2 answers give "tcp" or "udp" (or "proto-N" for another IP
	// protocol number N).
	Netid string
	// Addr is the universal address as registered ("0.0.0.0.8.1",
	// "::.3.47", "/run/rpcbind.sock"); "" for v2.
	Addr string
	// Port is decoded from the universal address or the v2 port; 0 when
	// the address is not an IP universal address (the "local" netid) or
	// the v2 port is out of range.
	Port uint16
	// Owner is the rpcbind owner ("superuser", a uid, "unknown"); "" for
	// v2.
	Owner string
}

// Name names the program ("status", "mountd", "nfs"), from the kb table,
// or "" when unknown.
func (m Mapping) Name() string {
	if p, ok := kb.RPCProgram(m.Program); ok && len(p.Names) > 0 {
		return p.Names[0]
	}
	return ""
}

// Options tune Dump. The zero value asks over TCP, newest version first,
// with the default limits.
type Options struct {
	// Transport is "tcp" (the default when empty) or "udp".
	Transport string
	// Version is 0 to try rpcbind v4, then v3, then portmapper v2, or 2,
	// 3 or 4 to ask that version only. Version 0 moves on when the
	// server answers PROG_MISMATCH (skipping versions outside the range
	// it gave), PROC_UNAVAIL, or, over UDP, SYSTEM_ERR: rpcbind's answer
	// when the map does not fit in a datagram, where v2's smaller
	// entries may still fit (without IPv6 or local entries).
	Version int
	// MaxRecord caps one reply: a TCP record (all its fragments) or a UDP
	// datagram, in bytes (default 1 MiB).
	MaxRecord int
	// MaxBytes caps the bytes read from the server in one Dump, over all
	// calls (default 4 MiB).
	MaxBytes int
	// MaxEntries caps the entries of one map (default 10000).
	MaxEntries int
	// MaxFragments caps the fragments of one TCP record (default 64).
	MaxFragments int
}

// Defaults for Options' zero fields, and the overall timeout Dump applies
// when its context has no deadline.
const (
	DefaultMaxRecord    = 1 << 20
	DefaultMaxBytes     = 4 << 20
	DefaultMaxEntries   = 10000
	DefaultMaxFragments = 64
	DefaultTimeout      = 5 * time.Second
)

// Errors Dump wraps; callers branch with errors.Is. Dial and I/O errors
// (a refused connection, a timeout as context.DeadlineExceeded) are
// wrapped as they are.
var (
	// ErrNotRPC means the answer is not a well-formed RPC reply to the
	// call: a non-RPC service on the port (an HTTP server, an echo
	// service), a reply to another call, or a reply whose results do not
	// decode.
	ErrNotRPC = errors.New("not an ONC RPC reply")
	// ErrVersion means the server refused every version tried (the error
	// text gives the range it accepts when it said), or does not serve
	// program 100000 at all (PROG_UNAVAIL).
	ErrVersion = errors.New("no common portmapper/rpcbind version")
	// ErrDenied means the server refused the call: MSG_DENIED (AUTH_ERROR,
	// or RPC_MISMATCH for RPC version 2 itself), or it accepted the call
	// and failed it (GARBAGE_ARGS, SYSTEM_ERR).
	ErrDenied = errors.New("call refused")
	// ErrLimit means the answer overran one of Options' limits.
	ErrLimit = errors.New("answer too large")
)

// limits are Options' caps with the defaults filled in.
type limits struct {
	record, bytes, entries, fragments int
}

func (o Options) limits() limits {
	l := limits{o.MaxRecord, o.MaxBytes, o.MaxEntries, o.MaxFragments}
	if l.record <= 0 {
		l.record = DefaultMaxRecord
	}
	if l.bytes <= 0 {
		l.bytes = DefaultMaxBytes
	}
	if l.entries <= 0 {
		l.entries = DefaultMaxEntries
	}
	if l.fragments <= 0 {
		l.fragments = DefaultMaxFragments
	}
	return l
}

// versions returns the versions to try, newest first.
func (o Options) versions() ([]uint32, error) {
	switch o.Version {
	case 0:
		return []uint32{4, 3, 2}, nil
	case 2, 3, 4:
		return []uint32{uint32(o.Version)}, nil
	}
	return nil, fmt.Errorf("portmapper/rpcbind version %d: want 2, 3, 4 or 0 for the newest the server speaks", o.Version)
}

// network returns the Go network name of the transport.
func (o Options) network() (string, error) {
	switch o.Transport {
	case "", "tcp":
		return "tcp", nil
	case "udp":
		return "udp", nil
	}
	return "", fmt.Errorf("transport %q: want tcp or udp", o.Transport)
}
