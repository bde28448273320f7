package cli

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/testutil"
)

// TestRPCWithSamba runs Debian's samba-dcerpcd in namespaces of the
// test's own: `whobinds rpc --dce` joins every TCP endpoint of its map
// with the Samba process that holds the port, and the main output
// explains a dynamic port (49152 and up) by the DCE/RPC interfaces
// registered on it.
func TestRPCWithSamba(t *testing.T) {
	if !testutil.InNamespaces(t) {
		return
	}
	root := testutil.StartSambaDcerpcd(t)

	code, out, errs := run(t, "rpc", "--dce", "--json")
	if code != ExitOK {
		t.Fatalf("whobinds rpc --dce --json: code %d, stderr %q", code, errs)
	}
	var doc rpcDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.DCE == nil || !doc.Local || doc.ONC != nil {
		t.Fatalf("whobinds rpc --dce --json: %v; want a local document with the DCE map alone:\n%s", err, out)
	}
	// Samba's daemon holds every listener; its rpcd_* helpers get the
	// connections it accepts.
	isSamba := func(h *rpcHolder) bool {
		return h != nil && (h.Process == "samba-dcerpcd" || strings.HasPrefix(h.Process, "rpcd_")) && testutil.DescendsFrom(h.PID, root)
	}
	ports := map[string]uint16{} // interface name -> its TCP port
	holders := map[uint16]string{}
	for _, e := range doc.DCE.Entries {
		if e.Protocol != "ncacn_ip_tcp" {
			continue
		}
		if e.Port == 0 || !isSamba(e.Holder) {
			t.Errorf("entry %s %s: holder %v; want samba-dcerpcd (pid %d) or one of its rpcd_* helpers", e.Binding, e.Name, e.Holder, root)
			continue
		}
		ports[e.Name] = e.Port
		holders[e.Port] = e.Holder.Process
	}
	if ports["MS-RPCE (EndpointMapper)"] != 135 {
		t.Errorf("port of the endpoint mapper = %d; want 135 (TCP entries %v)", ports["MS-RPCE (EndpointMapper)"], ports)
	}
	// A standalone Samba serves these on dynamic ports.
	for _, name := range []string{"MS-LSAD/MS-LSAT (lsarpc)", "MS-SRVS (srvsvc)"} {
		if p := ports[name]; p < 49152 {
			t.Errorf("TCP port of %s = %d; want a dynamic port from 49152 (TCP entries %v)", name, p, ports)
		}
	}
	const want = "MS-SAMR (samr)"
	port := ports[want]
	if port < 49152 {
		t.Fatalf("TCP port of %s = %d; want a dynamic port from 49152 (TCP entries %v)", want, port, ports)
	}
	tcpPort := "tcp/" + strconv.Itoa(int(port))

	// The narrative: why the port is open, and who holds it.
	code, out, errs = run(t, tcpPort)
	if code != ExitOK {
		t.Fatalf("whobinds %s: code %d, stderr %q:\n%s", tcpPort, code, errs, out)
	}
	t.Logf("whobinds %s:\n%s", tcpPort, out)
	why := ""
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "why" && strings.Contains(l, "DCE/RPC interfaces registered on this port: ") {
			why = l
		}
	}
	if !strings.Contains(why, want) {
		t.Errorf("whobinds %s: why line %q; want one naming the DCE/RPC interface %s:\n%s", tcpPort, why, want, out)
	}
	if !strings.Contains(out, "owner     "+holders[port]+", pid ") {
		t.Errorf("whobinds %s does not name its holder %s:\n%s", tcpPort, holders[port], out)
	}

	// The JSON of the same port carries the attribution.
	code, out, errs = run(t, "--json", tcpPort)
	if code != ExitOK {
		t.Fatalf("whobinds --json %s: code %d, stderr %q", tcpPort, code, errs)
	}
	type attribution struct {
		Kind    string `json:"kind"`
		Name    string `json:"name"`
		Manager string `json:"manager"`
	}
	var sockets struct {
		Sockets []struct {
			Attributions []attribution `json:"attributions"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(out), &sockets); err != nil || len(sockets.Sockets) == 0 {
		t.Fatalf("whobinds --json %s: %v; want a document with the socket:\n%s", tcpPort, err, out)
	}
	for _, s := range sockets.Sockets {
		if !slices.ContainsFunc(s.Attributions, func(a attribution) bool {
			return a.Kind == "rpc-interface" && a.Manager == "dce-rpc" && strings.Contains(a.Name, want)
		}) {
			t.Errorf("whobinds --json %s: attributions %+v; want an rpc-interface from dce-rpc naming %s", tcpPort, s.Attributions, want)
		}
	}

	// Both maps: nothing listens on 111 here, so the ONC map fails with
	// one line and exit 4, and the DCE table is still printed.
	code, out, errs = run(t, "rpc")
	t.Logf("whobinds rpc: code %d, stderr %q:\n%s", code, errs, out)
	if code != ExitOSFailure || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "whobinds: ONC RPC map") ||
		!strings.Contains(out, "DCE/RPC endpoint map of 127.0.0.1:135") || !strings.Contains(out, want) || !strings.Contains(out, "samba-dcerpcd (") {
		t.Errorf("whobinds rpc: code %d, stderr %q:\n%s\nwant 4, one line on the ONC failure, and the DCE table with holders", code, errs, out)
	}
}
