package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/whobinds/whobinds/internal/testutil"
)

// TestUnprivilegedUserSeesHiddenOwners runs the real binary as nobody
// against a listener that root holds: the socket is listed, its owner is
// marked hidden, and stderr gives the exact command that shows it.
func TestUnprivilegedUserSeesHiddenOwners(t *testing.T) {
	testutil.NeedRoot(t)
	gobin := testutil.NeedCommand(t, "go")
	dir, err := os.MkdirTemp("", "whobinds-unpriv")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "whobinds")
	build := exec.Command(gobin, "build", "-o", bin, "../../cmd/whobinds")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	_, port := listener(t) // held by this root process

	asNobody := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Dir = dir
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}

	code, out, errs := asNobody("tcp/" + port)
	if code != ExitOK {
		t.Fatalf("exit %d; want 0 (the socket is there even if its owner is hidden); stderr %q", code, errs)
	}
	if !strings.Contains(out, "127.0.0.1:"+port) || !strings.Contains(out, "hidden — needs root") {
		t.Errorf("stdout does not mark the owner hidden:\n%s", out)
	}
	if !strings.Contains(errs, "the owner of 1 socket is hidden (needs root); to see it: sudo "+bin+" tcp/"+port) {
		t.Errorf("stderr = %q; want the count and the exact command", errs)
	}

	code, out, _ = asNobody("--json", "tcp/"+port)
	var doc struct {
		Sockets []struct {
			Holders      []any   `json:"holders"`
			OwnersHidden *string `json:"owners_hidden"`
		} `json:"sockets"`
		Hidden *struct {
			Sockets int    `json:"sockets"`
			Hint    string `json:"hint"`
		} `json:"hidden"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitOK {
		t.Fatalf("--json: exit %d, %v", code, err)
	}
	if len(doc.Sockets) != 1 || len(doc.Sockets[0].Holders) != 0 || doc.Sockets[0].OwnersHidden == nil ||
		!strings.HasPrefix(*doc.Sockets[0].OwnersHidden, "needs root") || doc.Hidden == nil || doc.Hidden.Sockets != 1 || !strings.HasPrefix(doc.Hidden.Hint, "sudo ") {
		t.Errorf("--json as nobody = %s; want one socket with owners_hidden \"needs root\" and a hint", out)
	}
}
