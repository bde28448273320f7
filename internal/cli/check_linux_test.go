package cli

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/whobinds/whobinds/internal/act"
	"github.com/whobinds/whobinds/internal/testutil"
)

// runCheckAs runs the whobinds binary as uid:gid and returns its exit code and
// output.
func runCheckAs(t *testing.T, bin string, uid uint32, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	cmd.Dir = filepath.Dir(bin)
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

// TestCheckPrivilegedPortAsNobody runs whobinds as nobody in a network
// namespace of its own (where net.ipv4.ip_unprivileged_port_start starts
// at its default, 1024, whatever the host set): port 80 is privileged, and
// two of the fixes it prints really make the port bindable: the file
// capability, and lowering the sysctl.
func TestCheckPrivilegedPortAsNobody(t *testing.T) {
	if !testutil.InNamespaces(t) {
		return
	}
	setcap := testutil.Sbin(t, "setcap")
	bin := binary(t)
	const nobody = 65534
	sysctl := "/proc/sys/net/ipv4/ip_unprivileged_port_start"
	if b, err := os.ReadFile(sysctl); err != nil || strings.TrimSpace(string(b)) != "1024" {
		t.Fatalf("%s in a new network namespace = %q, %v; want 1024", sysctl, b, err)
	}

	code, out, errs := runCheckAs(t, bin, nobody, "check", "80")
	if code != ExitNoMatch {
		t.Fatalf("check 80 as nobody: exit %d; want %d\n%s%s", code, ExitNoMatch, out, errs)
	}
	for _, want := range []string{
		"tcp/80  not bindable as uid 65534 (nobody)",
		"0.0.0.0   port 80 is privileged: ports below net.ipv4.ip_unprivileged_port_start (1024) need CAP_NET_BIND_SERVICE, which this process (uid 65534, nobody) lacks (bind: EACCES)",
		"[::]      likewise",
		"sudo setcap cap_net_bind_service=+ep /path/to/server",
		"systemd-socket-activate -l 80 /path/to/server",
		"reverse proxy",
		"such as 8080",
		"sudo sysctl -w net.ipv4.ip_unprivileged_port_start=80",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if errs != "whobinds: tcp/80 is not bindable: privileged port\n" {
		t.Errorf("stderr = %q; want one line", errs)
	}

	// The setcap fix: a copy of the binary with the capability binds.
	capped := filepath.Join(filepath.Dir(bin), "whobinds-capped") // a directory nobody may read
	copyBinary(t, bin, capped)
	testutil.Run(t, setcap, "cap_net_bind_service=+ep", capped)
	code, out, errs = runCheckAs(t, capped, nobody, "check", "80")
	if code != ExitOK || !strings.HasPrefix(out, "tcp/80  bindable as uid 65534 (nobody)") ||
		!strings.Contains(out, "it binds because this process has CAP_NET_BIND_SERVICE") {
		t.Errorf("check 80 as nobody with cap_net_bind_service=+ep: exit %d\n%s%s; want bindable", code, out, errs)
	}

	// The sysctl fix, in this namespace only.
	if err := os.WriteFile(sysctl, []byte("80"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCheckAs(t, bin, nobody, "check", "80")
	if code != ExitOK || !strings.HasPrefix(out, "tcp/80  bindable") {
		t.Errorf("check 80 as nobody with ip_unprivileged_port_start=80: exit %d\n%s%s; want bindable", code, out, errs)
	}
	if code, out, _ := runCheckAs(t, bin, nobody, "check", "79"); code != ExitNoMatch || !strings.Contains(out, "(80) need CAP_NET_BIND_SERVICE") {
		t.Errorf("check 79 as nobody with ip_unprivileged_port_start=80: exit %d\n%s; want privileged below 80", code, out)
	}
}

func copyBinary(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckDualStackConflict: a dual-stack [::] listener holds the IPv4
// port too, and check says so; a v6-only one leaves IPv4 bindable.
func TestCheckDualStackConflict(t *testing.T) {
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		testutil.Missing(t, "no IPv6 here: %v", err)
	}
	probe.Close()
	// Ports below the ephemeral range: beside one the kernel picks, another
	// test's client connection may hold the IPv4 side, as check would say.
	dual := testutil.Listen(t, "tcp", "::") // Go leaves IPV6_V6ONLY off: dual-stack
	port := strconv.Itoa(dual.Addr().(*net.TCPAddr).Port)
	pid := strconv.Itoa(os.Getpid())
	code, out, errs := run(t, "check", port, "--addr", "0.0.0.0")
	if code != ExitNoMatch {
		t.Fatalf("check %s --addr 0.0.0.0 next to a dual-stack [::] listener: exit %d\n%s%s; want 1", port, code, out, errs)
	}
	for _, want := range []string{
		"(pid " + pid + ") listens on [::]:" + port + ", a dual-stack socket (IPV6_V6ONLY off) that holds the IPv4 port too",
		"takes IPv4 too because IPV6_V6ONLY is off",
		"tcp  [::]:" + port + "  LISTEN",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	v6only := testutil.Listen(t, "tcp6", "::") // Go sets IPV6_V6ONLY for tcp6
	port = strconv.Itoa(v6only.Addr().(*net.TCPAddr).Port)
	if code, out, errs := run(t, "check", port, "--addr", "0.0.0.0"); code != ExitOK || !strings.HasPrefix(out, "tcp/"+port+"  bindable") {
		t.Errorf("check %s --addr 0.0.0.0 next to a v6-only [::] listener: exit %d\n%s%s; want bindable", port, code, out, errs)
	}
	// And the other way round: a dual-stack [::] cannot bind next to an
	// IPv4 listener, a v6-only one can.
	v4 := testutil.Listen(t, "tcp4", "0.0.0.0")
	port = strconv.Itoa(v4.Addr().(*net.TCPAddr).Port)
	code, out, _ = run(t, "check", port, "--addr", "::")
	if code != ExitNoMatch || !strings.Contains(out, "[::]:"+port+" binds with IPV6_V6ONLY set") {
		t.Errorf("check %s --addr :: next to 0.0.0.0: exit %d\n%s; want not bindable, with IPV6_V6ONLY as the way", port, code, out)
	}
	if code, out, _ := run(t, "check", port); code != ExitNoMatch || !strings.Contains(out, "[::]      bindable") {
		t.Errorf("check %s next to 0.0.0.0: exit %d\n%s; want 0.0.0.0 in use and [::] (v6-only) bindable", port, code, out)
	}
}

// TestCheckEphemeralWarning: a free port that the kernel hands out as an
// ephemeral port is bindable, with the warning and the sysctl that
// reserves it.
func TestCheckEphemeralWarning(t *testing.T) {
	// The kernel picks a port for a bind to port 0 from
	// net.ipv4.ip_local_port_range.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_reserved_ports")
	if err != nil {
		t.Fatal(err)
	}
	reserved, err := act.ParseReservedPorts(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reserved {
		if r.Contains(port) {
			t.Fatalf("the kernel handed out reserved port %d", port)
		}
	}
	p := strconv.Itoa(port)
	code, out, errs := run(t, "check", p)
	if code != ExitOK || !strings.Contains(out, "warning   port "+p+" lies in the ephemeral port range") ||
		!strings.Contains(out, "sudo sysctl -w net.ipv4.ip_local_reserved_ports=") {
		t.Errorf("check %s: exit %d\n%s%s; want bindable with the ephemeral warning", p, code, out, errs)
	}
}
