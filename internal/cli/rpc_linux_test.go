package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/testutil"
)

// TestRPCWithRpcbind runs Debian's rpcbind, rpc.statd and rpc.mountd in
// namespaces of the test's own: `whobinds rpc` joins every mapping with the
// daemon that holds its port, and the main output attributes statd's and
// mountd's ports to their RPC programs.
func TestRPCWithRpcbind(t *testing.T) {
	if !testutil.InNamespaces(t) {
		return
	}
	testutil.StartRPCBind(t)

	code, out, errs := run(t, "rpc", "--onc", "--json")
	if code != ExitOK {
		t.Fatalf("whobinds rpc --onc --json: code %d, stderr %q", code, errs)
	}
	var doc rpcDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.ONC == nil || !doc.Local {
		t.Fatalf("whobinds rpc --onc --json: %v:\n%s", err, out)
	}
	holders := map[string]string{} // program name -> holder process
	ports := map[string]uint16{}   // program name -> its IPv4 TCP port
	for _, m := range doc.ONC.Mappings {
		if m.Holder == nil || m.Holder.Process == "" || m.Holder.PID == 0 {
			if m.Port != 0 {
				t.Errorf("mapping %+v: no holder; want the daemon on port %d", m, m.Port)
			}
			continue
		}
		holders[m.Name] = m.Holder.Process
		if m.Netid == "tcp" {
			ports[m.Name] = m.Port
		}
	}
	for name, want := range map[string]string{"portmapper": "rpcbind", "status": "rpc.statd", "mountd": "rpc.mountd"} {
		if holders[name] != want {
			t.Errorf("holder of %s = %q; want %q (holders %v)", name, holders[name], want, holders)
		}
	}

	// Which versions share a port depends on the daemon; the program and
	// the holder are what matter.
	for name, want := range map[string]string{"status": "status (100024) v1", "mountd": "mountd (100005) v"} {
		port := strconv.Itoa(int(ports[name]))
		code, out, errs := run(t, "tcp/"+port)
		if code != ExitOK || !strings.Contains(out, "ONC RPC programs registered on this port: ") || !strings.Contains(out, want) {
			t.Errorf("whobinds tcp/%s: code %d, stderr %q:\n%s\nwant the RPC program %q", port, code, errs, out, want)
		}
		if !strings.Contains(out, "owner     "+holders[name]+", pid ") {
			t.Errorf("whobinds tcp/%s does not name its holder %s:\n%s", port, holders[name], out)
		}
	}

	// Both maps: nothing listens on 135 here, so the DCE map fails with
	// one line and exit 4, and the ONC map is still printed.
	code, out, errs = run(t, "rpc")
	if code != ExitOSFailure || !strings.Contains(errs, "DCE/RPC endpoint map") || strings.Contains(errs, "ONC") ||
		!strings.Contains(out, "ONC RPC map of 127.0.0.1:111") || !strings.Contains(out, "rpc.statd") {
		t.Errorf("whobinds rpc: code %d, stderr %q:\n%s\nwant 4, the DCE failure, and the ONC table with holders", code, errs, out)
	}
}
