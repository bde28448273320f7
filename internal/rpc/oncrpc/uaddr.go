package oncrpc

// This file decodes universal addresses (RFC 5665 §5.2.3.3, §5.2.3.4), the
// text form rpcbind keeps an IP transport address in: the IP address in
// its usual notation, then the port as two more dotted decimal octets,
// high first ("127.0.0.1.0.111", "::1.0.111").

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseUniversalAddr decodes "h1.h2.h3.h4.p1.p2" and IPv6 "x:y::z.p1.p2"
// into a netip.AddrPort. The port is p1*256+p2.
func ParseUniversalAddr(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("universal address %q: no port", s)
	}
	j := strings.LastIndexByte(s[:i], '.')
	if j < 0 {
		return netip.AddrPort{}, fmt.Errorf("universal address %q: no port", s)
	}
	hi, ok1 := octet(s[j+1 : i])
	lo, ok2 := octet(s[i+1:])
	if !ok1 || !ok2 {
		return netip.AddrPort{}, fmt.Errorf("universal address %q: port %q is not two octets", s, s[j+1:])
	}
	ip, err := netip.ParseAddr(s[:j])
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("universal address %q: %w", s, err)
	}
	return netip.AddrPortFrom(ip, hi<<8|lo), nil
}

// octet parses one to three decimal digits worth at most 255.
func octet(s string) (uint16, bool) {
	if len(s) == 0 || len(s) > 3 {
		return 0, false
	}
	var v uint16
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint16(c-'0')
	}
	return v, v <= 255
}
