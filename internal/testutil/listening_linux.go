package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// TCPListening reports whether a TCP socket listens on port, on any
// address, in this network namespace, as /proc/net/tcp and tcp6 say.
//
// Wait for a server with this, not with a trial bind: a probe that binds
// the port holds it for a moment, and a server that binds in that moment
// fails with EADDRINUSE and never listens.
func TCPListening(port int) bool {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if tcpListensIn(b, port) {
			return true
		}
	}
	return false
}

// tcpListensIn reports whether a /proc/net/tcp table has a socket in state
// 0A (TCP_LISTEN) whose local port is port.
func tcpListensIn(table []byte, port int) bool {
	hex := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // the header
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		// sl local_address rem_address st ...
		if len(f) > 3 && bytes.HasSuffix(f[1], []byte(hex)) && string(f[3]) == "0A" {
			return true
		}
	}
	return false
}

// WaitTCPListening waits until TCPListening(port) holds, failing the test
// after WaitFor's timeout.
func WaitTCPListening(t testing.TB, port string) {
	t.Helper()
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("waiting for a listener: port %q: %v", port, err)
	}
	WaitFor(t, "a listener on port "+port, func() bool { return TCPListening(n) })
}
