package oncrpc

// This file decodes the results of the DUMP procedures (RFC 1833): the
// portmapper's pmaplist (§3.2) and rpcbind's rpcblist (§2.1). Both are
// XDR optional-data lists: each entry is preceded by the boolean TRUE and
// the list ends with FALSE.
//
//	struct mapping { unsigned int prog; unsigned int vers;
//	                 unsigned int prot; unsigned int port; };
//	struct rpcb    { unsigned long r_prog; unsigned long r_vers;
//	                 string r_netid<>; string r_addr<>; string r_owner<>; };

import (
	"fmt"
	"strconv"
)

// IP protocol numbers a pmaplist entry names.
const (
	ipprotoTCP = 6
	ipprotoUDP = 17
)

// decodePmapList decodes a pmaplist of at most max entries. Bytes after
// the list are ignored.
func decodePmapList(b []byte, max int) ([]Mapping, error) {
	d := &xdrDecoder{b: b}
	var ms []Mapping
	for d.Bool() {
		if len(ms) == max {
			return nil, fmt.Errorf("more than %d entries: %w", max, ErrLimit)
		}
		m := Mapping{Program: d.Uint32(), Version: d.Uint32()}
		prot := d.Uint32()
		port := d.Uint32()
		switch prot {
		case ipprotoTCP:
			m.Netid = "tcp"
		case ipprotoUDP:
			m.Netid = "udp"
		default:
			m.Netid = "proto-" + strconv.FormatUint(uint64(prot), 10)
		}
		if port <= 0xffff {
			m.Port = uint16(port)
		}
		if d.Err() != nil {
			break
		}
		ms = append(ms, m)
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("pmaplist entry %d: %w", len(ms), err)
	}
	return ms, nil
}

// decodeRpcbList decodes an rpcblist of at most max entries. Bytes after
// the list are ignored.
func decodeRpcbList(b []byte, max int) ([]Mapping, error) {
	d := &xdrDecoder{b: b}
	var ms []Mapping
	for d.Bool() {
		if len(ms) == max {
			return nil, fmt.Errorf("more than %d entries: %w", max, ErrLimit)
		}
		m := Mapping{
			Program: d.Uint32(),
			Version: d.Uint32(),
			Netid:   d.String(len(b)),
			Addr:    d.String(len(b)),
			Owner:   d.String(len(b)),
		}
		if d.Err() != nil {
			break
		}
		if !localNetid(m.Netid) {
			if ap, err := ParseUniversalAddr(m.Addr); err == nil {
				m.Port = ap.Port()
			}
		}
		ms = append(ms, m)
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("rpcblist entry %d: %w", len(ms), err)
	}
	return ms, nil
}

// localNetid reports whether netid is a local (AF_UNIX) transport, whose
// addresses are paths: "local" and "unix" in Linux's /etc/netconfig,
// the "tic" loopback transports on Solaris.
func localNetid(netid string) bool {
	switch netid {
	case "local", "unix", "ticlts", "ticots", "ticotsord":
		return true
	}
	return false
}
