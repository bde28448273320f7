package cli

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/testutil"
)

// TestRPCUnreachableMapsExitFour: a port where nothing listens and a
// non-RPC service each give one line and exit 4; with --json the document
// is still printed with each map's error.
func TestRPCUnreachableMapsExitFour(t *testing.T) {
	code, out, errs := run(t, "rpc", "--timeout", "2s", "127.0.0.2")
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	if code != ExitOSFailure || out != "" || len(lines) != 2 ||
		!strings.Contains(lines[0], "DCE/RPC endpoint map") || !strings.Contains(lines[1], "ONC RPC map") {
		t.Errorf("rpc 127.0.0.2: code %d, stdout %q, stderr %q; want 4, nothing, one line per map", code, out, errs)
	}

	code, out, errs = run(t, "rpc", "--json", "--onc", "--timeout", "2s", "127.0.0.2")
	var doc rpcDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitOSFailure || doc.ONC == nil || doc.ONC.Error == "" || doc.DCE != nil {
		t.Errorf("rpc --json --onc: code %d, %v, doc %+v, stderr %q; want 4 and the ONC map's error", code, err, doc, errs)
	}
}

func TestRPCHostIsLocal(t *testing.T) {
	for _, tt := range []struct {
		host string
		want bool
	}{{"127.0.0.1", true}, {"::1", true}, {"localhost", true}, {"192.0.2.1", false}, {"example.com", false}} {
		if got := isLocal(tt.host); got != tt.want {
			t.Errorf("isLocal(%q) = %v; want %v", tt.host, got, tt.want)
		}
	}
}

// TestRPCSilentServerEndsAtTimeout: a service on the port that never
// answers ends with an error at --timeout, not a hang.
func TestRPCSilentServerEndsAtTimeout(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.3:135")
	if err != nil {
		testutil.Missing(t, "listening on 127.0.0.3:135 (a privileged port) needs root: %v", err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	// The test binary's own -timeout catches a hang.
	code, _, errs := run(t, "rpc", "--dce", "--timeout", "1s", "127.0.0.3")
	if code != ExitOSFailure || !strings.Contains(errs, "DCE/RPC endpoint map") {
		t.Errorf("silent server: code %d, stderr %q; want 4 and a DCE error", code, errs)
	}
}
