package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/whobinds/whobinds/internal/testutil"
)

// TestUnprivilegedUserSeesHiddenOwners runs the real binary as nobody
// against a listener that root holds: the socket is listed, its owner is
// marked hidden, and stderr gives the exact command that shows it.
func TestUnprivilegedUserSeesHiddenOwners(t *testing.T) {
	testutil.NeedRoot(t)
	bin := binary(t)
	dir := filepath.Dir(bin)
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

var (
	builtOnce sync.Once
	builtBin  string
	builtErr  error
)

// binary builds whobinds once into a directory every user may read.
func binary(t *testing.T) string {
	t.Helper()
	gobin := testutil.NeedCommand(t, "go")
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "whobinds-bin")
		if err != nil {
			builtErr = err
			return
		}
		os.Chmod(dir, 0o755)
		builtBin = filepath.Join(dir, "whobinds")
		build := exec.Command(gobin, "build", "-o", builtBin, "../../cmd/whobinds")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			builtErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtBin
}

// TestWithoutSockDiag runs whobinds with every socket() call failing, as
// on a kernel without NETLINK_SOCK_DIAG: it falls back to /proc/net, says
// so on stderr, and still finds the owner.
func TestWithoutSockDiag(t *testing.T) {
	strace := testutil.NeedCommand(t, "strace")
	bin := binary(t)
	_, port := listener(t)
	cmd := exec.Command(strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=socket", "-e", "inject=socket:error=EPROTONOSUPPORT", bin, "--json", "tcp/"+port)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if strings.Contains(errb.String(), "ptrace") {
			testutil.Missing(t, "strace cannot trace here: %s", errb.String())
		}
		t.Fatalf("%v: %s", err, errb.String())
	}
	var doc struct {
		Sockets []struct {
			Holders []struct {
				PID int `json:"pid"`
			} `json:"holders"`
			V6Only *bool `json:"v6only"`
		} `json:"sockets"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(doc.Sockets) != 1 || len(doc.Sockets[0].Holders) != 1 || doc.Sockets[0].Holders[0].PID != os.Getpid() {
		t.Errorf("sockets = %+v; want the listener on %s held by this process", doc.Sockets, port)
	}
	if !strings.Contains(errb.String(), "reading /proc/net instead") || len(doc.Warnings) == 0 {
		t.Errorf("stderr %q, warnings %q; want the fallback named", errb.String(), doc.Warnings)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// TestInsideChildPIDNamespace runs whobinds in a new PID namespace with its
// own /proc, where the process holding the listener (this test) cannot be
// seen: the socket is listed, and the explanation says where its holder
// most likely is instead of calling it free or kernel-owned for sure.
func TestInsideChildPIDNamespace(t *testing.T) {
	testutil.NeedRoot(t)
	unshare := testutil.NeedCommand(t, "unshare")
	bin := binary(t)
	_, port := listener(t)
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", bin, "--json", "tcp/"+port)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	var doc struct {
		Host struct {
			InChildPIDNS bool `json:"in_child_pid_namespace"`
		} `json:"host"`
		Sockets []struct {
			Holders      []any `json:"holders"`
			Attributions []struct {
				Kind      string `json:"kind"`
				Detail    string `json:"detail"`
				Ambiguous bool   `json:"ambiguous"`
			} `json:"attributions"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if !doc.Host.InChildPIDNS || len(doc.Sockets) != 1 || len(doc.Sockets[0].Holders) != 0 || len(doc.Sockets[0].Attributions) != 1 {
		t.Fatalf("inside a child PID namespace: %s", out.String())
	}
	a := doc.Sockets[0].Attributions[0]
	if a.Kind != "kernel" || !a.Ambiguous || !strings.Contains(a.Detail, "outside") {
		t.Errorf("attribution = %+v; want an uncertain one naming a holder outside the namespace", a)
	}
}

// TestTerminalOutput runs whobinds under a pseudo-terminal (script(1)):
// a header, colour, and no colour with NO_COLOR.
func TestTerminalOutput(t *testing.T) {
	script := testutil.NeedCommand(t, "script")
	bin := binary(t)
	_, p1 := listener(t)
	_, p2 := listener(t)
	run := func(env ...string) string {
		cmd := exec.Command(script, "-qec", bin+" tcp/"+p1+" tcp/"+p2, "/dev/null")
		cmd.Env = append(append(os.Environ(), "TERM=xterm"), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("script: %v: %s", err, out)
		}
		return string(out)
	}
	colour := run()
	if !strings.Contains(colour, "PROTO") || !strings.Contains(colour, "\x1b[") || strings.Count(colour, "127.0.0.1:") != 2 {
		t.Errorf("terminal output lacks the header, colour or a row:\n%q", colour)
	}
	plain := run("NO_COLOR=1")
	if !strings.Contains(plain, "PROTO") || strings.Contains(plain, "\x1b[") {
		t.Errorf("NO_COLOR output has escape codes or no header:\n%q", plain)
	}
}

// TestUnprivilegedUserSeesPartOfTheHolders reproduces nginx's shape: a root
// process holds a listener and shares it with a worker running as nobody.
// Run as nobody, whobinds sees the worker and says the creator is hidden.
func TestUnprivilegedUserSeesPartOfTheHolders(t *testing.T) {
	testutil.NeedRoot(t)
	bin := binary(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, _ := ln.(*net.TCPListener).File()
	defer f.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	worker := exec.Command(testutil.NeedCommand(t, "sleep"), "60")
	worker.ExtraFiles = []*os.File{f}
	worker.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { worker.Process.Kill(); worker.Wait() }()

	cmd := exec.Command(bin, "--json", "tcp/"+port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var doc struct {
		Sockets []struct {
			Holders []struct {
				PID int `json:"pid"`
			} `json:"holders"`
			OwnersHidden *string `json:"owners_hidden"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Sockets) != 1 || len(doc.Sockets[0].Holders) != 1 || doc.Sockets[0].Holders[0].PID != worker.Process.Pid {
		t.Fatalf("sockets = %s; want the listener with the nobody worker (%d) as the visible holder", out, worker.Process.Pid)
	}
	if h := doc.Sockets[0].OwnersHidden; h == nil || !strings.Contains(*h, "uid 0 created the socket") {
		t.Errorf("owners_hidden = %v; want it to say the root creator is hidden", h)
	}
}
