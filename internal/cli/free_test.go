package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/testutil"
)

func TestFreeBadInput(t *testing.T) {
	checkBadInput(t, []badInput{
		{[]string{"free", "0"}, "port 0 is not a port anyone can hold"},
		{[]string{"free", "abc"}, `"abc" is not a port number`},
		{[]string{"free"}, "requires at least 1 arg"},
		{[]string{"free", "8000-8010"}, "is a range"},
		{[]string{"free", "--timeout", "0s", "80"}, "--timeout 0s"},
		{[]string{"free", "--bogus", "80"}, "unknown flag: --bogus"},
	})
}

// TestFreeAlreadyFree: freeing a free port succeeds and does nothing, so
// scripts can run it twice.
func TestFreeAlreadyFree(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	for _, args := range [][]string{{"free", "tcp/" + port}, {"free", "--yes", "tcp/" + port}, {"free", "--dry-run", "tcp/" + port}} {
		code, out, errs := run(t, args...)
		if code != ExitOK || !strings.Contains(out, "tcp/"+port+": free already") || errs != "" {
			t.Errorf("%v: code %d, stdout %q, stderr %q; want 0, \"free already\", nothing", args, code, out, errs)
		}
	}
	code, out, _ := run(t, "free", "--json", "tcp/"+port)
	var doc struct {
		Schema string `json:"schema"`
		Ports  []struct {
			Target string `json:"target"`
			State  string `json:"state"`
		} `json:"ports"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if code != ExitOK || doc.Schema != "whobinds/v1" || len(doc.Ports) != 1 || doc.Ports[0].State != "already-free" || doc.Ports[0].Target != "tcp/"+port {
		t.Errorf("--json: code %d, %+v; want 0, one port already-free", code, doc)
	}
}
