package httpsys

import (
	"strconv"
	"strings"
)

// URLPort returns the TCP port a URL prefix makes http.sys listen on
// ("http://+:80/x/" -> 80, "https://*:443/" -> 443, "http://localhost/"
// -> 80), ok=false for a malformed prefix.
//
// It accepts the forms http.sys and netsh print besides the registered
// ones: upper-case schemes, bracketed IPv6 hosts ("http://[::1]:8080/") and
// the routing form "HTTP://127.0.0.1:2222:127.0.0.1/PATH/" (host, port,
// then the address the request must arrive on).
func URLPort(prefix string) (port int, ok bool) {
	scheme, rest, found := strings.Cut(prefix, "://")
	if !found {
		return 0, false
	}
	switch strings.ToLower(scheme) {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return 0, false
	}
	hostport, _, _ := strings.Cut(rest, "/")
	var after string
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 2 {
			return 0, false
		}
		after = hostport[end+1:]
		if after != "" && after[0] != ':' {
			return 0, false
		}
	} else {
		host, tail, _ := strings.Cut(hostport, ":")
		if host == "" {
			return 0, false
		}
		if tail != "" || strings.HasSuffix(hostport, ":") {
			after = ":" + tail
		}
	}
	if after == "" {
		return port, true
	}
	// after is ":port" or ":port:routing-address".
	p, _, _ := strings.Cut(after[1:], ":")
	if p == "" || len(p) > 5 || strings.TrimLeft(p, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return n, true
}
