package cli

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/testutil"
)

// TestCheckWaitBadInput: one line on stderr, nothing on stdout, exit 2,
// and nothing bound or waited for.
func TestCheckWaitBadInput(t *testing.T) {
	checkBadInput(t, []badInput{
		{[]string{"check", "80", "--addr", "not-an-ip"}, `--addr "not-an-ip" is not an IP address`},
		{[]string{"check", "0"}, "port 0"},
		{[]string{"check", "abc"}, `"abc" is not a port number`},
		{[]string{"check", "70000"}, "out of range"},
		{[]string{"check", "8000-8100"}, "is a range: give one port"},
		{[]string{"check", "tcp/80", "--udp"}, "contradicts"},
		{[]string{"check", "127.0.0.1:80", "--addr", "::1"}, "give one"},
		{[]string{"check"}, "accepts 1 arg"},
		{[]string{"check", "80", "81"}, "accepts 1 arg"},
		{[]string{"wait", "80"}, "--listening or --free"},
		{[]string{"wait", "80", "--listening", "--free"}, "exclude each other"},
		{[]string{"wait", "0", "--free"}, "port 0"},
		{[]string{"wait", "80", "--free", "--timeout", "-1s"}, "--timeout -1s"},
		{[]string{"wait", "80", "--free", "--interval", "1ms"}, "--interval 1ms"},
		{[]string{"wait", "80", "--free", "--addr", "300.1.1.1"}, "not an IP address"},
		{[]string{"wait", "--free"}, "accepts 1 arg"},
	})
}

// verdictLine drops the warnings that a system without some facts prints
// on stderr (Wine's netsh prints nothing), keeping the lines that matter.
func verdictLine(errs string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(errs, "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "whobinds: warning: ") {
			out = append(out, l)
		}
	}
	return out
}

func TestCheckFreePortBinds(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	code, out, errs := run(t, "check", "--addr", "127.0.0.1", port)
	if code != ExitOK || !strings.HasPrefix(out, "tcp/"+port+"  bindable") || !strings.Contains(out, "127.0.0.1 ") {
		t.Errorf("check %s on a free port: exit %d, stdout %q, stderr %q; want 0 and bindable", port, code, out, errs)
	}
	if v := verdictLine(errs); len(v) != 0 {
		t.Errorf("stderr has %q; want no more than warnings", v)
	}
}

func TestCheckPortInUseNamesOwner(t *testing.T) {
	_, port := listener(t) // this test, on 127.0.0.1
	pid := strconv.Itoa(os.Getpid())
	code, out, errs := run(t, "check", "--addr", "127.0.0.1", port)
	if code != ExitNoMatch {
		t.Fatalf("exit %d; want %d (not bindable); stdout %q, stderr %q", code, ExitNoMatch, out, errs)
	}
	for _, want := range []string{"tcp/" + port + "  not bindable", "in use: ", "(pid " + pid + ") listens on 127.0.0.1:" + port, "whobinds free tcp/" + port,
		"tcp  127.0.0.1:" + port + "  LISTEN", "owner", "pid " + pid} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	v := verdictLine(errs)
	if len(v) != 1 || v[0] != "whobinds: tcp/"+port+" is not bindable: in use (pid "+pid+")" {
		t.Errorf("stderr = %q; want one line naming the port, the reason and pid %s", errs, pid)
	}
}

func TestCheckJSON(t *testing.T) {
	_, port := listener(t)
	code, out, _ := run(t, "check", "--json", "--addr", "127.0.0.1", port)
	var doc struct {
		Schema string `json:"schema"`
		Checks []struct {
			Proto     string `json:"proto"`
			Port      int    `json:"port"`
			Bindable  bool   `json:"bindable"`
			Addresses []struct {
				Address string `json:"address"`
				Reason  string `json:"reason"`
				Error   string `json:"error"`
			} `json:"addresses"`
			Conflicts []struct {
				Socket int      `json:"socket"`
				Blocks []string `json:"blocks"`
				Holds  bool     `json:"holds"`
			} `json:"conflicts"`
			Sockets []struct {
				State   string `json:"state"`
				Holders []struct {
					PID int `json:"pid"`
				} `json:"holders"`
			} `json:"sockets"`
			Fixes []struct {
				Command string `json:"command"`
			} `json:"fixes"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if code != ExitNoMatch || doc.Schema != "whobinds/v1" || len(doc.Checks) != 1 {
		t.Fatalf("exit %d, %s; want 1 and one check", code, out)
	}
	c := doc.Checks[0]
	if c.Proto != "tcp" || strconv.Itoa(c.Port) != port || c.Bindable || len(c.Addresses) != 1 || c.Addresses[0].Reason != "in-use" || c.Addresses[0].Error == "" {
		t.Errorf("check = %+v; want tcp/%s not bindable, in use", c, port)
	}
	if len(c.Conflicts) != 1 || !c.Conflicts[0].Holds || c.Conflicts[0].Blocks[0] != "127.0.0.1" || c.Conflicts[0].Socket >= len(c.Sockets) {
		t.Fatalf("conflicts = %+v (sockets %d); want one holder blocking 127.0.0.1", c.Conflicts, len(c.Sockets))
	}
	s := c.Sockets[c.Conflicts[0].Socket]
	if s.State != "LISTEN" || len(s.Holders) != 1 || s.Holders[0].PID != os.Getpid() {
		t.Errorf("socket in the way = %+v; want the listener of pid %d", s, os.Getpid())
	}
	if len(c.Fixes) == 0 || c.Fixes[0].Command != "whobinds free tcp/"+port {
		t.Errorf("fixes = %+v; want whobinds free first", c.Fixes)
	}
}

// TestCheckUDP binds UDP and TCP apart: a TCP listener leaves UDP free.
func TestCheckUDP(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	code, out, errs := run(t, "check", "--udp", "--addr", "127.0.0.1", port)
	if code != ExitOK || !strings.HasPrefix(out, "udp/"+port+"  bindable") {
		t.Errorf("check --udp %s next to a TCP listener: exit %d, %q, %q; want bindable", port, code, out, errs)
	}
	code, out, _ = run(t, "check", "--tcp", "--udp", "--addr", "127.0.0.1", port)
	if code != ExitNoMatch || !strings.Contains(out, "tcp/"+port+"  not bindable") || !strings.Contains(out, "udp/"+port+"  bindable") {
		t.Errorf("check --tcp --udp %s: exit %d, %q; want TCP not bindable, UDP bindable, exit 1", port, code, out)
	}
}
