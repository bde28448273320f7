package oncrpc

// This file tests Dump against Debian's rpcbind, with rpc.statd and
// rpc.mountd registered, inside namespaces the test makes for itself:
// the test binary runs itself again under unshare(1) in a new network
// namespace holding only lo (rpcbind binds every interface and sends IPv6
// multicast otherwise), a new mount namespace with a private tmpfs on
// /run (rpcbind's socket /run/rpcbind.sock and lock are fixed paths, and
// the daemons register through that socket: a host rpcbind must not see
// them), and a new PID namespace whose end kills every daemon left. The
// daemons' state lives in t.TempDir(): statd's in -P, mountd's etab and
// rmtab in -s. Nothing of the host is touched.

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/testutil"
)

// innerEnv marks the run of the test binary inside the namespaces.
const innerEnv = "WHOBINDS_ONCRPC_NAMESPACES"

func TestRpcbindReal(t *testing.T) {
	if os.Getenv(innerEnv) == "" {
		runInNamespaces(t)
		return
	}
	testRpcbindInside(t)
}

// sbinCommand finds a daemon, in PATH or in the sbin directories a
// non-root PATH may lack.
func sbinCommand(t *testing.T, name string) string {
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
	testutil.Missing(t, "command %s not installed (Debian packages rpcbind, nfs-common, nfs-kernel-server)", name)
	return ""
}

// runInNamespaces runs this test again inside new network, mount and PID
// namespaces, and reports its result.
func runInNamespaces(t *testing.T) {
	testutil.NeedRoot(t)
	unshare := testutil.NeedCommand(t, "unshare")
	for _, name := range []string{"rpcbind", "rpc.statd", "rpc.mountd", "rpcinfo", "ip"} {
		sbinCommand(t, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, unshare, "--net", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc",
		os.Args[0], "-test.run=^TestRpcbindReal$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), innerEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("inside the namespaces (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	switch {
	case bytes.Contains(out, []byte("--- SKIP: TestRpcbindReal (")):
		testutil.Missing(t, "skipped inside the namespaces")
	case err != nil:
		t.Fatalf("%v: %v", cmd.Args, err)
	case !bytes.Contains(out, []byte("--- PASS: TestRpcbindReal (")):
		t.Fatalf("%v: no PASS line", cmd.Args)
	}
}

func testRpcbindInside(t *testing.T) {
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
	run(t, sbinCommand(t, "ip"), "link", "set", "lo", "up")
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("making / private in the new mount namespace: %v", err)
	}
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mounting a tmpfs on /run: %v", err)
	}

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

	daemon(t, sbinCommand(t, "rpcbind"), "-f")
	waitFor(t, "rpcbind on 127.0.0.1:111", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:111")
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	// -L: no sm-notify; -d: log to stderr.
	daemon(t, sbinCommand(t, "rpc.statd"), "-F", "-L", "-d", "-P", statdDir)
	daemon(t, sbinCommand(t, "rpc.mountd"), "-F", "-s", mountdDir)

	rpcinfo := sbinCommand(t, "rpcinfo")
	// Registration is done when both daemons are listed and the map
	// holds still.
	var prev string
	waitFor(t, "statd and mountd registered", func() bool {
		out := run(t, rpcinfo, "127.0.0.1")
		done := out == prev && strings.Contains(out, " 100024 ") && strings.Contains(out, " 100005 ")
		prev = out
		return done
	})

	wantV2 := parseRpcinfoP(t, run(t, rpcinfo, "-p", "127.0.0.1"))
	wantV4 := parseRpcinfo(t, run(t, rpcinfo, "127.0.0.1"))
	t.Logf("rpcinfo -p: %d entries; rpcinfo: %d entries", len(wantV2), len(wantV4))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		name string
		addr string
		opt  Options
		v2   bool // whether the answer is the v2 view
	}{
		{"tcp auto", "127.0.0.1:111", Options{}, false},
		{"tcp v4", "127.0.0.1:111", Options{Version: 4}, false},
		{"tcp v3", "127.0.0.1:111", Options{Version: 3}, false},
		{"tcp v2", "127.0.0.1:111", Options{Version: 2}, true},
		{"udp auto", "127.0.0.1:111", Options{Transport: "udp"}, false},
		{"udp v2", "127.0.0.1:111", Options{Transport: "udp", Version: 2}, true},
		{"tcp6 auto", "[::1]:111", Options{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.addr, "[::1]") && !haveIPv6() {
				t.Skip("no IPv6 on lo")
			}
			ms, err := Dump(ctx, tt.addr, tt.opt)
			if err != nil {
				t.Fatalf("Dump(%s, %+v) = %v", tt.addr, tt.opt, err)
			}
			if tt.v2 {
				if diff := cmp.Diff(wantV2, v2View(ms)); diff != "" {
					t.Errorf("Dump(%s, %+v) against rpcinfo -p (-want +got):\n%s", tt.addr, tt.opt, diff)
				}
			} else {
				if diff := cmp.Diff(wantV4, v4View(ms)); diff != "" {
					t.Errorf("Dump(%s, %+v) against rpcinfo (-want +got):\n%s", tt.addr, tt.opt, diff)
				}
				// rpcinfo shows universal addresses; rpcinfo -p shows the
				// ports of the IPv4 ones, as rpcbind decoded them.
				for _, m := range ms {
					for _, r := range wantV2 {
						if m.Program == r.Program && m.Version == r.Version && m.Netid == r.Proto && m.Port != r.Port {
							t.Errorf("Dump(%s, %+v): %+v: port %d; rpcinfo -p says %d", tt.addr, tt.opt, m, m.Port, r.Port)
						}
					}
				}
			}
			checkStatd(t, ctx, ms)
		})
	}
	t.Run("large map", func(t *testing.T) { largeMap(t, ctx, rpcinfo, 300) })
}

// largeMap registers n more programs through rpcbind's local socket
// (RPCBPROC_SET, v4 procedure 1, allowed there to root), enough that the
// v3/v4 map no longer fits in rpcbind's UDP answers (8800 bytes) while
// the v2 map still does, and checks Dump against rpcinfo again. rpcbind
// sends such a map over TCP as a record of several fragments (of 8996
// bytes on Debian 12).
func largeMap(t *testing.T, ctx context.Context, rpcinfo string, n int) {
	for i := range n {
		rpcb := appendRpcbList(nil, []Mapping{{Program: 0x40000000 + uint32(i), Version: 1, Netid: "tcp", Addr: "127.0.0.1.39.16", Owner: "superuser"}})
		rpcb = rpcb[4 : len(rpcb)-4] // the rpcb alone, without the list's booleans
		call := append(appendCall(nil, uint32(i), portmapProg, 4, 1), rpcb...)
		c, err := net.Dial("unix", "/run/rpcbind.sock")
		if err != nil {
			t.Fatal(err)
		}
		c.Write(appendRecord(nil, call))
		rec, err := newRecordReader(c, Options{}.limits(), nil).Next()
		c.Close()
		if err != nil {
			t.Fatalf("RPCBPROC_SET: %v", err)
		}
		r, err := parseReply(rec)
		if err != nil || r.denied || r.accept != success || !bytes.Equal(r.results, []byte{0, 0, 0, 1}) {
			t.Fatalf("RPCBPROC_SET of program %#x = %+v, %v; want SUCCESS, TRUE", 0x40000000+i, r, err)
		}
	}
	wantV2 := parseRpcinfoP(t, run(t, rpcinfo, "-p", "127.0.0.1"))
	wantV4 := parseRpcinfo(t, run(t, rpcinfo, "127.0.0.1"))
	t.Logf("with %d more programs: rpcinfo -p: %d entries; rpcinfo: %d entries", n, len(wantV2), len(wantV4))
	for _, opt := range []Options{{}, {Version: 2}, {Transport: "udp"}} {
		ms, err := Dump(ctx, "127.0.0.1:111", opt)
		if err != nil {
			t.Errorf("Dump(%+v) = %v", opt, err)
			continue
		}
		if opt.Transport == "udp" || opt.Version == 2 {
			// Over UDP, v4 and v3 get SYSTEM_ERR and v2 answers.
			if diff := cmp.Diff(wantV2, v2View(ms)); diff != "" {
				t.Errorf("Dump(%+v) against rpcinfo -p (-want +got):\n%s", opt, diff)
			}
		} else if diff := cmp.Diff(wantV4, v4View(ms)); diff != "" {
			t.Errorf("Dump(%+v) against rpcinfo (-want +got):\n%s", opt, diff)
		}
	}
	opt := Options{Transport: "udp", Version: 4}
	if _, err := Dump(ctx, "127.0.0.1:111", opt); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "SYSTEM_ERR") {
		t.Errorf("Dump(%+v) = %v; want ErrDenied, SYSTEM_ERR", opt, err)
	}
}

// checkStatd checks that statd is in the map as "status", and that its
// TCP port answers the NULL procedure of program 100024.
func checkStatd(t *testing.T, ctx context.Context, ms []Mapping) {
	t.Helper()
	var port uint16
	for _, m := range ms {
		if m.Program != 100024 {
			continue
		}
		if m.Name() != "status" {
			t.Errorf("%+v.Name() = %q; want status", m, m.Name())
		}
		if m.Netid == "tcp" {
			port = m.Port
		}
	}
	if port == 0 {
		t.Fatalf("no tcp entry of program 100024 (statd) with a port in %+v", ms)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	c := &client{network: "tcp", addr: addr, lim: Options{}.limits(), timeout: 10 * time.Second}
	r, err := c.call(ctx, "statd NULL", 100024, 1, 0)
	if err != nil || r.denied || r.accept != success {
		t.Errorf("NULL call to program 100024 v1 at %s = %+v, %v; want SUCCESS", addr, r, err)
	}
}

// pmapRow is a line of rpcinfo -p.
type pmapRow struct {
	Program, Version uint32
	Proto            string
	Port             uint16
}

// rpcbRow is a line of rpcinfo HOST.
type rpcbRow struct {
	Program, Version   uint32
	Netid, Addr, Owner string
}

// parseRpcinfoP reads "program vers proto port [service]" lines.
func parseRpcinfoP(t *testing.T, out string) []pmapRow {
	t.Helper()
	var rows []pmapRow
	for i, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 {
			t.Fatalf("rpcinfo -p line %d %q: want 4 or 5 fields", i+2, line)
		}
		rows = append(rows, pmapRow{uint32(atoi(t, f[0])), uint32(atoi(t, f[1])), f[2], uint16(atoi(t, f[3]))})
	}
	return rows
}

// parseRpcinfo reads "program version netid address service owner" lines.
func parseRpcinfo(t *testing.T, out string) []rpcbRow {
	t.Helper()
	var rows []rpcbRow
	for i, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("rpcinfo line %d %q: want 6 fields", i+2, line)
		}
		rows = append(rows, rpcbRow{uint32(atoi(t, f[0])), uint32(atoi(t, f[1])), f[2], f[3], f[5]})
	}
	return rows
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("rpcinfo: %q is not a number", s)
	}
	return n
}

func v2View(ms []Mapping) []pmapRow {
	var rows []pmapRow
	for _, m := range ms {
		rows = append(rows, pmapRow{m.Program, m.Version, m.Netid, m.Port})
	}
	return rows
}

func v4View(ms []Mapping) []rpcbRow {
	var rows []rpcbRow
	for _, m := range ms {
		rows = append(rows, rpcbRow{m.Program, m.Version, m.Netid, m.Addr, m.Owner})
	}
	return rows
}

func haveIPv6() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// run runs a command and returns its standard output.
func run(t *testing.T, name string, args ...string) string {
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

// daemon starts a daemon in the foreground, and stops it when the test
// ends (the PID namespace's end would kill it anyway), logging its
// output.
func daemon(t *testing.T, name string, args ...string) {
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
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("waiting for %s: gave up after 20s", what)
}
