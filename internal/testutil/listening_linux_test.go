package testutil

import (
	"net"
	"testing"
)

func TestTCPListensIn(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2EE0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:9C40 0100007F:2EE1 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
`
	for _, tt := range []struct {
		port int
		want bool
	}{
		{12000, true},  // 0x2EE0, listening
		{12001, false}, // only a remote end
		{40000, false}, // 0x9C40, established, not listening
		{0, false},
	} {
		if got := tcpListensIn([]byte(table), tt.port); got != tt.want {
			t.Errorf("tcpListensIn(port %d) = %v; want %v", tt.port, got, tt.want)
		}
	}
}

// TestTCPListening checks the real tables: a listener of ours is seen,
// and not once it is closed.
func TestTCPListening(t *testing.T) {
	ln := Listen(t, "tcp4", "127.0.0.1")
	port := ln.Addr().(*net.TCPAddr).Port
	if !TCPListening(port) {
		t.Fatalf("TCPListening(%d) = false with a listener there", port)
	}
	ln.Close()
	if TCPListening(port) {
		t.Errorf("TCPListening(%d) = true after the listener closed", port)
	}
}
