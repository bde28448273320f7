package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/linux/procfs"
	"github.com/whobinds/whobinds/internal/testutil"
)

// freeHTTPD starts busybox's web server on 127.0.0.1:port, in the foreground,
// as a real listener to free. It is ended when the test ends.
func freeHTTPD(t *testing.T, port string) *exec.Cmd {
	t.Helper()
	busybox := testutil.NeedCommand(t, "busybox")
	cmd := exec.Command(busybox, "httpd", "-f", "-p", "127.0.0.1:"+port, "-h", t.TempDir())
	return freeStartListening(t, cmd, port)
}

// freeStartListening starts cmd in a process group of its own and waits until
// something listens on port. The group is killed when the test ends.
func freeStartListening(t *testing.T, cmd *exec.Cmd, port string) *exec.Cmd {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if out.Len() > 0 {
			t.Logf("%v: %s", cmd.Args, out.String())
		}
	})
	testutil.WaitTCPListening(t, port)
	return cmd
}

func freeBindable(port string) bool {
	ln, err := net.Listen("tcp4", "127.0.0.1:"+port)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// freeRunning reports whether a process runs and is not a zombie.
func freeRunning(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	st, err := procfs.ParseStat(b)
	return err == nil && st.State != 'Z'
}

func TestFreePlainListener(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	srv := freeHTTPD(t, port)
	code, out, errs := run(t, "free", "--yes", "tcp/"+port)
	if code != ExitOK {
		t.Fatalf("free --yes tcp/%s: code %d\nstdout:\n%s\nstderr:\n%s", port, code, out, errs)
	}
	pid := strconv.Itoa(srv.Process.Pid)
	for _, want := range []string{
		"held        tcp 127.0.0.1:" + port + " LISTEN by busybox (pid " + pid + ")",
		"1. end busybox (pid " + pid,
		"kill -TERM " + pid,
		"tcp/" + port + ": done: busybox (pid " + pid + ") exited",
		"tcp/" + port + ": freed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !freeBindable(port) {
		t.Errorf("port %s is not free after free said freed", port)
	}
}

// TestFreeParentRespawns frees a server that a shell loop restarts: free
// ends it, sees the port taken again, names the shell, and exits 1.
func TestFreeParentRespawns(t *testing.T) {
	busybox := testutil.NeedCommand(t, "busybox")
	sh := testutil.NeedCommand(t, "sh")
	port := strconv.Itoa(testutil.FreePort(t))
	loop := exec.Command(sh, "-c", `while :; do "$0" httpd -f -p "127.0.0.1:$1" -h "$2"; done`, busybox, port, t.TempDir())
	freeStartListening(t, loop, port)
	code, out, errs := run(t, "free", "--yes", "--timeout", "5s", "tcp/"+port)
	if code != ExitNoMatch {
		t.Fatalf("code %d; want %d (still held)\nstdout:\n%s\nstderr:\n%s", code, ExitNoMatch, out, errs)
	}
	shPID := strconv.Itoa(loop.Process.Pid)
	for _, want := range []string{
		"busybox was started by sh (pid " + shPID + "), which may start it again",
		"tcp/" + port + ": still held: busybox (pid ",
		"was started by sh (pid " + shPID + "), the parent of the process free ended: it respawns it",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "tcp/"+port+" still held") || strings.Count(errs, "\n") != 1 {
		t.Errorf("stderr = %q; want one line saying it is still held", errs)
	}
	if !freeRunning(loop.Process.Pid) {
		t.Errorf("the respawning shell was ended; only the holder should be")
	}
}

// TestFreeLeavesClientsAlone frees a server with an established client:
// the server is ended, the client process is not.
func TestFreeLeavesClientsAlone(t *testing.T) {
	busybox := testutil.NeedCommand(t, "busybox")
	port := strconv.Itoa(testutil.FreePort(t))
	srv := freeHTTPD(t, port)
	client := exec.Command(busybox, "nc", "127.0.0.1", port)
	stdin, err := client.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); client.Process.Kill(); client.Wait() }()
	testutil.WaitFor(t, "the client's connection", func() bool {
		code, out, _ := run(t, "-a", "--json", "--pid", strconv.Itoa(client.Process.Pid))
		var doc struct {
			Sockets []struct {
				State  string `json:"state"`
				Remote *struct {
					Port int `json:"port"`
				} `json:"remote"`
			} `json:"sockets"`
		}
		if code != ExitOK || json.Unmarshal([]byte(out), &doc) != nil {
			return false
		}
		for _, s := range doc.Sockets {
			if s.State == "ESTAB" && s.Remote != nil && strconv.Itoa(s.Remote.Port) == port {
				return true
			}
		}
		return false
	})
	code, out, errs := run(t, "free", "--yes", "tcp/"+port)
	if code != ExitOK {
		t.Fatalf("code %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if strings.Contains(out, "pid "+strconv.Itoa(client.Process.Pid)) {
		t.Errorf("the plan names the client (pid %d):\n%s", client.Process.Pid, out)
	}
	if freeRunning(srv.Process.Pid) {
		t.Errorf("the server (pid %d) still runs", srv.Process.Pid)
	}
	if !freeRunning(client.Process.Pid) {
		t.Errorf("the client (pid %d) was ended", client.Process.Pid)
	}
}

// TestFreeDryRunAndConfirmation: --dry-run and a pipe without --yes only
// show the plan; on a terminal, "n" changes nothing and "y" frees.
func TestFreeDryRunAndConfirmation(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	srv := freeHTTPD(t, port)
	pid := strconv.Itoa(srv.Process.Pid)

	code, out, errs := run(t, "free", "--dry-run", "tcp/"+port)
	if code != ExitOK || !strings.Contains(out, "kill -TERM "+pid) || strings.Contains(out, "done:") || errs != "" {
		t.Errorf("--dry-run: code %d, stdout %q, stderr %q; want 0, the plan, nothing done", code, out, errs)
	}
	code, out, errs = run(t, "free", "tcp/"+port)
	if code != ExitRefused || !strings.Contains(out, "kill -TERM "+pid) || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "free --yes tcp/"+port) {
		t.Errorf("without a terminal: code %d, stdout %q, stderr %q; want %d, the plan, one line naming --yes", code, out, errs, ExitRefused)
	}
	code, out, _ = run(t, "free", "--json", "tcp/"+port)
	var doc struct {
		Ports []struct {
			State string `json:"state"`
			Steps []struct {
				Kind string `json:"kind"`
				PID  int    `json:"pid"`
			} `json:"steps"`
		} `json:"ports"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if code != ExitRefused || len(doc.Ports) != 1 || doc.Ports[0].State != "planned" || len(doc.Ports[0].Steps) != 1 || doc.Ports[0].Steps[0].PID != srv.Process.Pid {
		t.Errorf("--json without --yes: code %d, %+v; want %d, planned, one step for pid %s", code, doc, ExitRefused, pid)
	}
	if !freeRunning(srv.Process.Pid) {
		t.Fatal("the server was ended without confirmation")
	}

	ask := func(answer string) (int, string, string) {
		var o, e bytes.Buffer
		opts := &FreeOptions{IO: &IO{In: strings.NewReader(answer), Out: &o, Err: &e, TTY: true, Program: func() string { return "whobinds" }},
			Args: []string{"tcp/" + port}, Interactive: true, Timeout: 10 * time.Second}
		err := runFree(context.Background(), opts)
		code := ExitOK
		if err != nil {
			code = exitCode(err)
		}
		return code, o.String(), e.String()
	}
	code, out, errs = ask("n\n")
	if code != ExitRefused || !strings.Contains(errs, "Carry out this plan? [y/N]") || !freeRunning(srv.Process.Pid) {
		t.Errorf("answer n: code %d, stdout %q, stderr %q, server running %v; want %d, the question, still running", code, out, errs, freeRunning(srv.Process.Pid), ExitRefused)
	}
	code, out, errs = ask("y\n")
	if code != ExitOK || !strings.Contains(out, "tcp/"+port+": freed") {
		t.Errorf("answer y: code %d, stdout %q, stderr %q; want 0, freed", code, out, errs)
	}
	if freeRunning(srv.Process.Pid) || !freeBindable(port) {
		t.Errorf("after y: server running %v, port bindable %v; want ended and free", freeRunning(srv.Process.Pid), freeBindable(port))
	}
}

// TestFreeJSON frees with --json --yes: one document with the plan, what
// was done and the state.
func TestFreeJSON(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	srv := freeHTTPD(t, port)
	code, out, errs := run(t, "free", "--json", "--yes", "tcp/"+port)
	var doc struct {
		Schema string `json:"schema"`
		Ports  []struct {
			Target  string `json:"target"`
			State   string `json:"state"`
			Sockets []struct {
				Local   string `json:"local"`
				Holders []struct {
					PID int `json:"pid"`
				} `json:"holders"`
			} `json:"sockets"`
			Done []struct {
				OK   bool   `json:"ok"`
				Text string `json:"text"`
				Step struct {
					Kind       string `json:"kind"`
					PID        int    `json:"pid"`
					StartTicks uint64 `json:"start_ticks"`
				} `json:"step"`
			} `json:"done"`
		} `json:"ports"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s\nstderr %s", err, out, errs)
	}
	if code != ExitOK || len(doc.Ports) != 1 {
		t.Fatalf("code %d, doc %+v", code, doc)
	}
	p := doc.Ports[0]
	if p.State != "freed" || len(p.Done) != 1 || !p.Done[0].OK || p.Done[0].Step.Kind != "terminate" || p.Done[0].Step.PID != srv.Process.Pid || p.Done[0].Step.StartTicks == 0 {
		t.Errorf("port = %+v; want freed by ending pid %d, verified by its start time", p, srv.Process.Pid)
	}
	if len(p.Sockets) != 1 || p.Sockets[0].Local != "127.0.0.1:"+port {
		t.Errorf("sockets = %+v; want the listener", p.Sockets)
	}
}

// TestFreeRefusedExitsThree: a refusal (here: whobinds would end the
// process it runs in) does nothing and exits 3.
func TestFreeRefusedExitsThree(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	code, out, errs := run(t, "free", "--yes", "tcp/"+port)
	if code != ExitRefused || !strings.Contains(out, "refused") || !strings.Contains(out, "this whobinds process") {
		t.Errorf("code %d, stdout %q, stderr %q; want %d and the refusal", code, out, errs, ExitRefused)
	}
	if c, err := net.Dial("tcp4", "127.0.0.1:"+port); err != nil {
		t.Errorf("the listener stopped answering: %v", err)
	} else {
		c.Close()
	}
}
