package sockdiag

// This file parses the text tables of /proc/net/{tcp,tcp6,udp,udp6}, the
// fallback when sock_diag is unavailable. The format is written by
// tcp4_seq_show/get_tcp4_sock (net/ipv4/tcp_ipv4.c), tcp6_seq_show
// (net/ipv6/tcp_ipv6.c), udp4_format_sock (net/ipv4/udp.c) and
// __ip6_dgram_sock_seq_show (net/ipv6/datagram.c):
//
//	  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ...
//	   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23456 ...
//
// An address is printed as %08X of each 32-bit word as it sits in memory,
// so its bytes are in the host's order; ports, the state and the queues are
// plain hex numbers, uid and inode decimal.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/whobinds/whobinds/internal/model"
)

// procNetFields is how many fields of a line the parser reads: sl, the two
// addresses, st, the queues, tr:tm->when, retrnsmt, uid, timeout, inode.
const procNetFields = 10

// AppendProcNet parses one /proc/net/{tcp,tcp6,udp,udp6} table from r and
// appends its sockets of protocol proto (model.TCP or model.UDP) and
// family (4 or 6) whose state is in states (0 for every state).
//
// The table says nothing about IPV6_V6ONLY or the bound interface, so
// V6Only is Unknown and IfIndex 0. For a TCP listener RecvQ is the accept
// queue as in a dump, but SendQ is 0: the table does not show the backlog
// limit. A line that does not parse is an error naming its line number;
// nothing is guessed.
func AppendProcNet(dst []model.Socket, r io.Reader, proto model.Proto, family int, states model.StateMask) ([]model.Socket, error) {
	if proto != model.TCP && proto != model.UDP {
		return dst, fmt.Errorf("parsing /proc/net table: protocol %v: must be tcp or udp", proto)
	}
	if family != 4 && family != 6 {
		return dst, fmt.Errorf("parsing /proc/net table: family %d: must be 4 or 6", family)
	}
	if states == 0 {
		states = model.AllStates
	}
	br := bufio.NewReaderSize(r, 16<<10)
	n0 := len(dst)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return dst[:n0], fmt.Errorf("parsing /proc/net table: line %d: longer than %d bytes", lineNo, br.Size())
		}
		if err != nil && err != io.EOF {
			return dst[:n0], fmt.Errorf("parsing /proc/net table: line %d: %w", lineNo, err)
		}
		switch {
		case lineNo == 1 && len(line) == 0 && err == io.EOF:
			return dst[:n0], fmt.Errorf("parsing /proc/net table: empty: %w", io.ErrUnexpectedEOF)
		case lineNo == 1:
			if f, _ := nextField(line); string(f) != "sl" {
				return dst[:n0], fmt.Errorf("parsing /proc/net table: line 1: not the header line (sl local_address ...)")
			}
		case len(bytes.TrimSpace(line)) > 0:
			s, perr := parseProcNetLine(line, proto, family)
			if perr != nil {
				return dst[:n0], fmt.Errorf("parsing /proc/net table: line %d: %w", lineNo, perr)
			}
			if states.Has(s.State) {
				dst = append(dst, s)
			}
		}
		if err == io.EOF {
			return dst, nil
		}
	}
}

// parseProcNetLine parses one line of a table.
func parseProcNetLine(line []byte, proto model.Proto, family int) (model.Socket, error) {
	var f [procNetFields][]byte
	rest := line
	for i := range f {
		f[i], rest = nextField(rest)
		if f[i] == nil {
			return model.Socket{}, fmt.Errorf("%d fields, want at least %d", i, procNetFields)
		}
	}
	if len(f[0]) < 2 || f[0][len(f[0])-1] != ':' {
		return model.Socket{}, fmt.Errorf("slot %q: want N:", f[0])
	}
	s := model.Socket{Proto: proto}
	local, err := parseProcNetAddr(f[1], family)
	if err != nil {
		return model.Socket{}, fmt.Errorf("local address %q: %w", f[1], err)
	}
	rem, err := parseProcNetAddr(f[2], family)
	if err != nil {
		return model.Socket{}, fmt.Errorf("remote address %q: %w", f[2], err)
	}
	s.Local = local
	s.Remote = remote(rem.Addr(), rem.Port())
	st, ok := parseHex(f[3], 2)
	if !ok || st == 0 {
		return model.Socket{}, fmt.Errorf("state %q: want two hex digits, not 00", f[3])
	}
	s.State = model.State(st)
	tx, rx, ok := bytes.Cut(f[4], []byte{':'})
	if !ok {
		return model.Socket{}, fmt.Errorf("queues %q: want tx_queue:rx_queue", f[4])
	}
	sendQ, ok1 := parseHex(tx, 8)
	recvQ, ok2 := parseHex(rx, 8)
	if !ok1 || !ok2 {
		return model.Socket{}, fmt.Errorf("queues %q: want two 8-digit hex numbers", f[4])
	}
	s.SendQ, s.RecvQ = uint32(sendQ), uint32(recvQ)
	uid, ok := parseDec(f[7], 32)
	if !ok {
		return model.Socket{}, fmt.Errorf("uid %q: want a decimal number", f[7])
	}
	s.UID = uint32(uid)
	if s.Inode, ok = parseDec(f[9], 64); !ok {
		return model.Socket{}, fmt.Errorf("inode %q: want a decimal number", f[9])
	}
	return s, nil
}

// parseProcNetAddr parses ADDR:PORT, ADDR being 8 (IPv4) or 32 (IPv6) hex
// digits of 32-bit words in host order.
func parseProcNetAddr(b []byte, family int) (netip.AddrPort, error) {
	words := 1
	if family == 6 {
		words = 4
	}
	a, p, ok := bytes.Cut(b, []byte{':'})
	if !ok || len(a) != 8*words {
		return netip.AddrPort{}, fmt.Errorf("want %d hex digits, a colon and a port", 8*words)
	}
	var buf [16]byte
	for i := range words {
		w, ok := parseHex(a[8*i:8*i+8], 8)
		if !ok {
			return netip.AddrPort{}, errors.New("address is not hex")
		}
		ne.PutUint32(buf[4*i:], uint32(w))
	}
	port, ok := parseHex(p, 4)
	if !ok {
		return netip.AddrPort{}, errors.New("port is not four hex digits")
	}
	var addr netip.Addr
	if family == 4 {
		addr = netip.AddrFrom4([4]byte(buf[:4]))
	} else {
		addr = netip.AddrFrom16(buf)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// nextField returns the first space-separated field of b and the rest; the
// field is nil when b holds none.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	if i == j {
		return nil, nil
	}
	return b[i:j], b[j:]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseHex parses exactly n hex digits (n <= 16).
func parseHex(b []byte, n int) (uint64, bool) {
	if len(b) != n {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// parseDec parses an unsigned decimal number of at most bits bits.
func parseDec(b []byte, bits uint) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if bits < 64 && v >= 1<<bits {
		return 0, false
	}
	return v, true
}
