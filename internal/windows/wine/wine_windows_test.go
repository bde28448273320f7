package wine

import (
	"net"
	"os"
	"testing"
)

// TestDetected checks Detected against the environment: the Wine test
// script exports WINEPREFIX, the native Windows workflow does not.
func TestDetected(t *testing.T) {
	want := os.Getenv("WINEPREFIX") != ""
	if got := Detected(); got != want {
		t.Errorf("Detected() = %v; want %v (WINEPREFIX=%q)", got, want, os.Getenv("WINEPREFIX"))
	}
}

func TestTouch(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			l, err := net.Listen(network, addr)
			if err != nil {
				t.Fatalf("net.Listen(%s, %s): %v", network, addr, err)
			}
			defer l.Close()
			if err := Touch(l.(*net.TCPListener)); err != nil {
				t.Errorf("Touch(%v) = %v; want nil", l.Addr(), err)
			}
		})
	}
}
