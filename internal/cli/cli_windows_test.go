package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/testutil"
	"github.com/whobinds/whobinds/internal/windows/wintest"
)

func TestMain(m *testing.M) {
	wintest.ServeIfService()
	os.Exit(m.Run())
}

// TestServiceStory: a port held by a Windows service tells its story with
// the service's name, and --json carries the same attribution.
func TestServiceStory(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	const name = "WhobindsCLITest"
	pid := wintest.InstallService(t, name, "127.0.0.1:"+port)
	code, out, errs := run(t, "tcp/"+port)
	if code != ExitOK {
		t.Fatalf("whobinds tcp/%s: code %d, stderr %q", port, code, errs)
	}
	for _, want := range []string{fmt.Sprintf("pid %d", pid), "why       Windows service " + name, "sc stop " + name} {
		if !strings.Contains(out, want) {
			t.Errorf("narrative lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = run(t, "--json", "tcp/"+port)
	var doc struct {
		Host struct {
			OS string `json:"os"`
		} `json:"host"`
		Sockets []struct {
			Attributions []struct {
				Kind      string `json:"kind"`
				Name      string `json:"name"`
				PID       int    `json:"pid"`
				Ambiguous bool   `json:"ambiguous"`
			} `json:"attributions"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitOK {
		t.Fatalf("--json: code %d, %v:\n%s", code, err, out)
	}
	if doc.Host.OS != "windows" || len(doc.Sockets) != 1 {
		t.Fatalf("--json: host.os %q, %d sockets; want windows, 1", doc.Host.OS, len(doc.Sockets))
	}
	found := false
	for _, a := range doc.Sockets[0].Attributions {
		found = found || a.Kind == "windows-service" && a.Name == name && a.PID == pid && !a.Ambiguous
	}
	if !found {
		t.Errorf("--json attributions = %+v; want windows-service %s of PID %d", doc.Sockets[0].Attributions, name, pid)
	}
}

func TestAllNetNSIsNotApplicable(t *testing.T) {
	_, port := listener(t)
	code, _, errs := run(t, "--all-netns", "tcp/"+port)
	if code != ExitOK || !strings.Contains(errs, "--all-netns is not applicable on Windows") {
		t.Errorf("--all-netns: code %d, stderr %q; want 0 and a note that it is not applicable", code, errs)
	}
}

// TestFreePortSaysWhatIsKnownOfRanges: on a port nobody holds, the answer
// says whether it lies in an excluded range, or that this is unknown.
func TestFreePortSaysWhatIsKnownOfRanges(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	code, _, errs := run(t, "tcp/"+port)
	if code != ExitNoMatch || strings.Contains(errs, "network namespace") {
		t.Errorf("free port: code %d, stderr %q; want 1 and no mention of namespaces", code, errs)
	}
	if !strings.Contains(errs, "excluded port range") && !strings.Contains(errs, "dynamic port range") {
		t.Errorf("free port: stderr %q; want what is known of the port ranges", errs)
	}
}
