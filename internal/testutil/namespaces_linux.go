package testutil

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// namespacesEnv marks the run of a test binary inside the namespaces
// InNamespaces made.
const namespacesEnv = "WHOBINDS_TEST_NAMESPACES"

// InNamespaces runs the calling top-level test again inside new network,
// mount and PID namespaces and reports that run's result; then it returns
// false and the caller returns. Inside, it brings lo up (the only
// interface), mounts a private tmpfs on /run (daemons such as rpcbind use
// fixed paths there) and returns true. The PID namespace's end kills every
// daemon the test started. Needs root and unshare(1).
func InNamespaces(t *testing.T) bool {
	t.Helper()
	if os.Getenv(namespacesEnv) == t.Name() {
		inside(t)
		return true
	}
	NeedRoot(t)
	unshare := NeedCommand(t, "unshare")
	NeedCommand(t, "ip")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, unshare, "--net", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc",
		os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), namespacesEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("inside the namespaces (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	switch {
	case bytes.Contains(out, []byte("--- SKIP: "+t.Name()+" (")):
		Missing(t, "skipped inside the namespaces")
	case err != nil:
		t.Fatalf("%v: %v", cmd.Args, err)
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name()+" (")):
		t.Fatalf("%v: no PASS line", cmd.Args)
	}
	return false
}

func inside(t *testing.T) {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifs {
		// A new namespace may hold the fallback devices of loaded
		// tunnel modules (sit0, tunl0...), always down.
		if ifc.Name != "lo" && ifc.Flags&net.FlagUp != 0 {
			t.Fatalf("interface %s is up; want a new network namespace with lo alone up", ifc.Name)
		}
	}
	Run(t, Sbin(t, "ip"), "link", "set", "lo", "up")
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("making / private in the new mount namespace: %v", err)
	}
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mounting a tmpfs on /run: %v", err)
	}
}

// Sbin finds a daemon in PATH or in the sbin directories a non-root PATH
// may lack; Missing when it is not installed (pkg names the packages).
func Sbin(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	Missing(t, "command %s not installed", name)
	return ""
}

// Run runs a command and returns its standard output, failing the test
// when it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// Daemon starts a program that stays in the foreground and stops it when
// the test ends, logging its output. It returns the running command.
func Daemon(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	var werr error
	go func() { werr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		t.Logf("%s %s: %v\n%s", name, strings.Join(args, " "), werr, out.String())
	})
	return cmd
}

// WaitFor polls cond until it holds, failing the test after 20 s.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("waiting for %s: gave up after 20s", what)
}

// StartRPCBind starts Debian's rpcbind with rpc.statd and rpc.mountd
// registered, for a test inside InNamespaces: their state lives in a
// temporary directory (statd's in -P, mountd's empty etab in -s), nothing
// of the host is touched. It returns when both are registered and the map
// holds still.
func StartRPCBind(t testing.TB) {
	t.Helper()
	rpcbind, statd, mountd, rpcinfo := Sbin(t, "rpcbind"), Sbin(t, "rpc.statd"), Sbin(t, "rpc.mountd"), Sbin(t, "rpcinfo")
	dir := t.TempDir()
	statdDir := filepath.Join(dir, "statd")
	mountdDir := filepath.Join(dir, "mountd")
	for _, d := range []string{filepath.Join(statdDir, "sm"), filepath.Join(statdDir, "sm.bak"), mountdDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mountdDir, "etab"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	Daemon(t, rpcbind, "-f")
	WaitFor(t, "rpcbind on 127.0.0.1:111", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:111")
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	// -L: no sm-notify; -d: log to stderr.
	Daemon(t, statd, "-F", "-L", "-d", "-P", statdDir)
	Daemon(t, mountd, "-F", "-s", mountdDir)
	var prev string
	WaitFor(t, "statd and mountd registered", func() bool {
		out := Run(t, rpcinfo, "127.0.0.1")
		done := out == prev && strings.Contains(out, " 100024 ") && strings.Contains(out, " 100005 ")
		prev = out
		return done
	})
}
