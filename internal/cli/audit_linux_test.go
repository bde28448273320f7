package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/testutil"
)

type auditDoc struct {
	Findings []struct {
		Severity string `json:"severity"`
		Socket   struct {
			Local struct {
				Address string `json:"address"`
				Port    int    `json:"port"`
			} `json:"local"`
		} `json:"socket"`
		Firewall *struct {
			Verdict string `json:"verdict"`
			Rule    string `json:"rule"`
		} `json:"firewall"`
	} `json:"findings"`
}

// TestAuditReportsOnlyReachableListeners starts one listener on every
// address and one on loopback: the audit reports the first, not the
// second.
func TestAuditReportsOnlyReachableListeners(t *testing.T) {
	wild, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	lo, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	anyPort, loPort := wild.Addr().(*net.TCPAddr).Port, lo.Addr().(*net.TCPAddr).Port

	code, out, errs := run(t, "audit", "--json")
	if code != ExitOK {
		t.Fatalf("audit: exit %d: %s", code, errs)
	}
	var doc auditDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("audit --json is not JSON: %v", err)
	}
	found := map[int]bool{}
	for _, f := range doc.Findings {
		found[f.Socket.Local.Port] = true
	}
	if !found[anyPort] || found[loPort] {
		t.Errorf("audit reported 0.0.0.0:%d: %v and 127.0.0.1:%d: %v; want the first only", anyPort, found[anyPort], loPort, found[loPort])
	}

	code, md, _ := run(t, "audit")
	if code != ExitOK || !strings.Contains(md, "# whobinds audit") || !strings.Contains(md, "0.0.0.0:"+strconv.Itoa(anyPort)) {
		t.Errorf("audit (Markdown): exit %d:\n%s", code, md)
	}
	// An unknown port on every address is "low": --fail-on low fails,
	// --fail-on high does not (nothing else here is high unless the
	// machine runs something risky).
	if code, _, _ := run(t, "audit", "--fail-on", "low"); code != ExitNoMatch {
		t.Errorf("audit --fail-on low: exit %d; want 1", code)
	}
	if code, _, errs := run(t, "audit", "--fail-on", "extreme"); code != ExitUsage || !strings.Contains(errs, "--fail-on") {
		t.Errorf("audit --fail-on extreme: exit %d, %q; want a usage error", code, errs)
	}
}

// TestAuditReadsTheFirewall runs the audit inside a network namespace
// whose nftables ruleset drops one port and accepts another: the findings
// say which.
func TestAuditReadsTheFirewall(t *testing.T) {
	testutil.NeedRoot(t)
	ip := testutil.NeedCommand(t, "ip")
	nft := testutil.NeedCommand(t, "nft")
	bin := binary(t)
	ns := "wbaudit" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		testutil.Missing(t, "ip netns add: %v: %s", err, out)
	}
	defer exec.Command(ip, "netns", "del", ns).Run()
	exec.Command(ip, "-n", ns, "link", "set", "lo", "up").Run()
	rules := "table inet filter {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 7001 drop\n }\n}\n"
	f := t.TempDir() + "/rules.nft"
	os.WriteFile(f, []byte(rules), 0o644)
	if out, err := exec.Command(ip, "netns", "exec", ns, nft, "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	// Two listeners in the namespace, both on every address.
	var listeners []*exec.Cmd
	for _, port := range []string{"7001", "7002"} {
		c := exec.Command(ip, "netns", "exec", ns, testutil.NeedCommand(t, "systemd-socket-activate"), "-l", "0.0.0.0:"+port, "cat")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, c)
	}
	defer func() {
		for _, c := range listeners {
			c.Process.Kill()
			c.Wait()
		}
	}()
	var out bytes.Buffer
	var doc auditDoc
	for try := 0; try < 50; try++ {
		out.Reset()
		cmd := exec.Command(ip, "netns", "exec", ns, bin, "audit", "--json")
		cmd.Stdout = &out
		cmd.Run()
		doc = auditDoc{}
		json.Unmarshal(out.Bytes(), &doc)
		if len(doc.Findings) == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	verdicts := map[int]string{}
	for _, f := range doc.Findings {
		if f.Firewall == nil {
			t.Fatalf("finding on %d: firewall not checked: %s", f.Socket.Local.Port, out.String())
		}
		verdicts[f.Socket.Local.Port] = f.Firewall.Verdict
		if f.Socket.Local.Port == 7001 && (f.Severity != "info" || !strings.Contains(f.Firewall.Rule, "tcp dport 7001 drop")) {
			t.Errorf("7001: severity %s, rule %q; want info, decided by the drop rule", f.Severity, f.Firewall.Rule)
		}
	}
	if verdicts[7001] != "drop" || verdicts[7002] != "accept" {
		t.Errorf("verdicts = %v; want 7001 drop, 7002 accept\n%s", verdicts, out.String())
	}
}
