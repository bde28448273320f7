package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/testutil"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// badInput is a command line that must be refused as a usage error: exit
// 2, nothing on stdout, and one line on stderr containing wantSub.
type badInput struct {
	args    []string
	wantSub string
}

func checkBadInput(t *testing.T, tests []badInput) {
	t.Helper()
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := run(t, tt.args...)
			if code != ExitUsage {
				t.Errorf("exit code = %d; want %d", code, ExitUsage)
			}
			if out != "" {
				t.Errorf("stdout = %q; want nothing", out)
			}
			if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "whobinds: ") || !strings.Contains(errs, tt.wantSub) {
				t.Errorf("stderr = %q; want one line starting \"whobinds: \" containing %q", errs, tt.wantSub)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	checkBadInput(t, []badInput{
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"0"}, "port 0"},
		{[]string{"70000"}, "out of range"},
		{[]string{"http"}, `"http" is not a port number`},
		{[]string{"80-70"}, "write 70-80"},
		{[]string{"300.1.1.1:80"}, "not an IP address"},
		{[]string{"::1:80"}, "brackets"},
		{[]string{"--json", "--csv"}, "exclude each other"},
		{[]string{"-o", "tall"}, "unknown output format"},
		{[]string{"--pid", "-3"}, "positive"},
		{[]string{"--pid", "abc"}, "invalid argument"},
		{[]string{"completion", "tcsh"}, "invalid argument"},
		{[]string{"completion"}, "accepts 1 arg"},
		{[]string{"rpc", "http://host/"}, "not a host name or an IP address"},
		{[]string{"rpc", "a", "b"}, "accepts at most 1 arg"},
		{[]string{"rpc", "--timeout", "0s"}, "--timeout 0s"},
	})
}

func TestFreePortExitsOne(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	code, out, errs := run(t, "tcp/"+port)
	if code != ExitNoMatch || out != "" || !strings.Contains(errs, "no listening TCP socket on tcp/"+port) {
		t.Errorf("free port: code %d, stdout %q, stderr %q; want 1, nothing, a one-line explanation", code, out, errs)
	}
}

func listener(t *testing.T) (int, string) {
	t.Helper()
	ln := testutil.Listen(t, "tcp4", "127.0.0.1")
	if err := wine.Touch(ln.(*net.TCPListener)); err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	return p, strconv.Itoa(p)
}

func TestOnePortTellsTheStory(t *testing.T) {
	_, port := listener(t)
	code, out, errs := run(t, "tcp/"+port)
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	pid := strconv.Itoa(os.Getpid())
	for _, want := range []string{"tcp  127.0.0.1:" + port + "  LISTEN", "owner", "pid " + pid, "exposure  this host only"} {
		if !strings.Contains(out, want) {
			t.Errorf("narrative lacks %q:\n%s", want, out)
		}
	}
}

func TestSeveralTargetsPrintTSV(t *testing.T) {
	_, p1 := listener(t)
	_, p2 := listener(t)
	code, out, _ := run(t, "tcp/"+p1, "tcp/"+p2)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != ExitOK || len(lines) != 2 {
		t.Fatalf("code %d, output %q; want two rows", code, out)
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 7 || f[0] != "tcp4" || f[3] != strconv.Itoa(os.Getpid()) {
			t.Errorf("row %q; want 7 tab-separated fields, tcp4, our pid", l)
		}
	}
}

func TestJSONAndCSV(t *testing.T) {
	p, port := listener(t)
	code, out, _ := run(t, "--json", "tcp/"+port)
	if code != ExitOK {
		t.Fatalf("--json code %d", code)
	}
	var doc struct {
		Schema  string `json:"schema"`
		Sockets []struct {
			Local struct {
				Port int `json:"port"`
			} `json:"local"`
			Holders []struct {
				PID int `json:"pid"`
			} `json:"holders"`
			OwnersHidden *string `json:"owners_hidden"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if doc.Schema != "whobinds/v1" || len(doc.Sockets) != 1 || doc.Sockets[0].Local.Port != p ||
		len(doc.Sockets[0].Holders) != 1 || doc.Sockets[0].Holders[0].PID != os.Getpid() || doc.Sockets[0].OwnersHidden != nil {
		t.Errorf("--json = %+v; want one socket on %d held by us, nothing hidden", doc, p)
	}

	code, out, _ = run(t, "--csv", "tcp/"+port)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != ExitOK || err != nil || len(recs) != 2 || recs[0][0] != "proto" || recs[1][3] != port {
		t.Errorf("--csv = %q, %v; want a header and one record for port %s", out, err, port)
	}
}

func TestFreePortJSONIsStillADocument(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	code, out, _ := run(t, "--json", "tcp/"+port)
	var doc map[string]any
	if code != ExitNoMatch || json.Unmarshal([]byte(out), &doc) != nil || len(doc["sockets"].([]any)) != 0 {
		t.Errorf("--json on a free port: code %d, output %q; want exit 1 and a document with no sockets", code, out)
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, _ := run(t, "completion", sh)
		if code != ExitOK || !strings.Contains(out, "whobinds") {
			t.Errorf("completion %s: code %d, %d bytes", sh, code, len(out))
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := run(t, "--help")
	if code != ExitOK || !strings.Contains(out, "TARGET") || !strings.Contains(out, "--all-netns") {
		t.Errorf("--help: code %d:\n%s", code, out)
	}
	code, out, _ = run(t, "--version")
	if code != ExitOK || !strings.Contains(out, "whobinds version") {
		t.Errorf("--version: code %d: %q", code, out)
	}
}

func TestPortCommand(t *testing.T) {
	code, out, _ := run(t, "port", "445")
	for _, want := range []string{"445/tcp", "445/udp", "LanmanServer", "IANA      microsoft-ds", "risk      high", "sources"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("port 445: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	code, out, _ = run(t, "port", "winrm", "--os", "windows")
	if code != ExitOK || !strings.Contains(out, "5985/tcp") || strings.Contains(out, "linux:") {
		t.Errorf("port winrm --os windows: exit %d:\n%s", code, out)
	}
	code, out, _ = run(t, "port", "--json", "udp/53")
	var doc struct {
		Schema string `json:"schema"`
		Ports  []struct {
			Proto   string `json:"proto"`
			Port    int    `json:"port"`
			Curated *struct {
				Owners []struct {
					Process string `json:"process"`
					Addr    string `json:"addr"`
				} `json:"owners"`
			} `json:"curated"`
		} `json:"ports"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitOK || len(doc.Ports) != 1 || doc.Ports[0].Proto != "udp" || doc.Ports[0].Curated == nil {
		t.Fatalf("port --json udp/53: exit %d, %v:\n%s", code, err, out)
	}
	resolved := false
	for _, o := range doc.Ports[0].Curated.Owners {
		resolved = resolved || (o.Process == "systemd-resolve" && o.Addr == "127.0.0.53")
	}
	if !resolved {
		t.Errorf("port udp/53 owners lack systemd-resolved on 127.0.0.53: %+v", doc.Ports[0].Curated.Owners)
	}
	if code, _, errs := run(t, "port", "47999"); code != ExitNoMatch || !strings.Contains(errs, "nothing is known") {
		t.Errorf("port 47999: exit %d, %q; want 1 and a message", code, errs)
	}
}

func TestPortBadInput(t *testing.T) {
	checkBadInput(t, []badInput{
		{[]string{"port", "0"}, "port 0"},
		{[]string{"port", "99999"}, "out of range"},
		{[]string{"port", "wimrm"}, "did you mean winrm"},
		{[]string{"port", "80/sctp"}, "want PORT/tcp"},
		{[]string{"port"}, "requires at least 1 arg"},
		{[]string{"port", "80", "--os", "plan9"}, "--os"},
	})
}
