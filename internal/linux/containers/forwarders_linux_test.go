package containers

// Integration tests for the forwarders that are easy to start alone:
// pasta and slirp4netns, each forwarding a host port on loopback into a
// network namespace where busybox httpd serves a page. The reference for
// who holds the host port is ss; the proof of the target port is the page.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/testutil"
)

func TestPastaIntegration(t *testing.T) {
	testutil.NeedRoot(t)
	pasta := testutil.NeedCommand(t, "pasta")
	busybox := testutil.NeedCommand(t, "busybox")

	const content = "whobinds pasta integration\n"
	www := webRoot(t, content)
	hostPort := testutil.FreePort(t)
	local := fmt.Sprintf("127.0.0.1:%d", hostPort)

	// pasta run by root drops to nobody by default and then cannot set
	// up the command's user namespace; --runas 0 keeps it root. The
	// command still runs as an unmapped user, so it serves an
	// unprivileged port.
	cmd := exec.Command(pasta, "--runas", "0", "--config-net", "--foreground",
		"-t", fmt.Sprintf("127.0.0.1/%d:8080", hostPort), "-u", "none", "-T", "none", "-U", "none",
		"--", busybox, "httpd", "-f", "-p", "8080", "-h", www)
	out, err := os.Create(filepath.Join(t.TempDir(), "pasta.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting pasta: %v", err)
	}
	t.Cleanup(func() { killTree(cmd) })

	var holders []int
	waitFor(t, time.Minute, "pasta to listen on "+local, func() (bool, string) {
		var saw string
		holders, saw = listenHolders(t, 0, local)
		return slices.Contains(holders, cmd.Process.Pid), saw
	})

	want := []Forward{{Kind: "pasta", Proto: model.TCP, HostAddr: netip.MustParseAddr("127.0.0.1"),
		HostPort: uint16(hostPort), HostPortEnd: uint16(hostPort), Target: netip.AddrPortFrom(netip.Addr{}, 8080)}}
	forwarders := 0
	for _, h := range holders {
		comm, argv := procArgs(t, h)
		fws, ok := ParseForwarder(comm, argv)
		if !ok {
			// pasta's command inherits pasta's listening socket: the
			// holder is then the containerised process itself.
			continue
		}
		forwarders++
		if len(fws) != 1 || fws[0] != want[0] {
			t.Errorf("ParseForwarder(%q, %q) = %+v; want %+v", comm, argv, fws, want)
			continue
		}
		if got, ok := fws[0].Maps(model.TCP, uint16(hostPort)); !ok || got != 8080 {
			t.Errorf("%+v.Maps(tcp, %d) = %d, %v; want 8080", fws[0], hostPort, got, ok)
		}
	}
	if forwarders == 0 {
		t.Errorf("no holder of %s parsed as a forwarder; holders %v", local, holders)
	}

	// The forward really goes to port 8080 in the namespace.
	var body string
	waitFor(t, time.Minute, "the page through pasta", func() (bool, string) {
		var err error
		body, err = httpGet(local)
		return err == nil && body == content, fmt.Sprintf("%q, %v", body, err)
	})
}

func TestSlirp4netnsIntegration(t *testing.T) {
	testutil.NeedRoot(t)
	slirp := testutil.NeedCommand(t, "slirp4netns")
	unshare := testutil.NeedCommand(t, "unshare")
	busybox := testutil.NeedCommand(t, "busybox")

	const content = "whobinds slirp4netns integration\n"
	www := webRoot(t, content)
	hostPort := testutil.FreePort(t)
	local := fmt.Sprintf("127.0.0.1:%d", hostPort)

	ns := exec.Command(unshare, "--net", "--", busybox, "httpd", "-f", "-p", "80", "-h", www)
	if err := ns.Start(); err != nil {
		t.Fatalf("starting httpd in a new network namespace: %v", err)
	}
	t.Cleanup(func() { killTree(ns) })

	// slirp4netns joins the namespace of the PID it is given. Until
	// unshare has made the new namespace that is still ours, and
	// slirp4netns would then put tap0 in the wrong one and forward into a
	// namespace where nothing listens (seen in CI under load as a minute
	// of reset connections). busybox runs only after unshare, so a
	// listener on :80 in a namespace other than ours settles it.
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "httpd to listen in a namespace of its own", func() (bool, string) {
		theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", ns.Process.Pid))
		if err != nil || theirs == self {
			return false, fmt.Sprintf("network namespace %q, %v (ours %q)", theirs, err, self)
		}
		holders, saw := listenHolders(t, ns.Process.Pid, "*:80")
		return slices.Contains(holders, ns.Process.Pid), saw
	})

	// --ready-fd, as podman passes it: slirp4netns writes "1" there once
	// tap0 is configured in the namespace.
	dir := t.TempDir()
	api := filepath.Join(dir, "slirp.sock")
	ready, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer ready.Close()
	logPath := filepath.Join(dir, "slirp4netns.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(slirp, "--configure", "--mtu=65520", "--disable-host-loopback",
		"--ready-fd=3", "--api-socket", api, strconv.Itoa(ns.Process.Pid), "tap0")
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		t.Fatalf("starting slirp4netns: %v", err)
	}
	t.Cleanup(func() { killTree(cmd) })
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("slirp4netns log:\n%s", tail(log, 2000))
		}
	})
	ready.SetReadDeadline(time.Now().Add(time.Minute))
	if n, err := ready.Read(make([]byte, 1)); n != 1 {
		t.Fatalf("waiting for slirp4netns to configure tap0: %v", err)
	}

	// Port forwards are added over the API socket, as podman does; they
	// never appear on the command line.
	waitFor(t, time.Minute, "slirp4netns's API socket", func() (bool, string) {
		_, err := os.Stat(api)
		return err == nil, fmt.Sprint(err)
	})
	c, err := net.Dial("unix", api)
	if err != nil {
		t.Fatal(err)
	}
	req := fmt.Sprintf(`{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": %d, "guest_port": 80}}`, hostPort)
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var reply struct {
		Return map[string]any `json:"return"`
		Error  map[string]any `json:"error"`
	}
	if err := json.NewDecoder(c).Decode(&reply); err != nil || reply.Error != nil {
		t.Fatalf("add_hostfwd: %v, %v", err, reply.Error)
	}
	c.Close()

	var holders []int
	waitFor(t, time.Minute, "slirp4netns to listen on "+local, func() (bool, string) {
		var saw string
		holders, saw = listenHolders(t, 0, local)
		return slices.Contains(holders, cmd.Process.Pid), saw
	})
	comm, argv := procArgs(t, cmd.Process.Pid)
	fws, ok := ParseForwarder(comm, argv)
	want := Forward{Kind: "slirp4netns", TargetPID: ns.Process.Pid}
	if !ok || len(fws) != 1 || fws[0] != want {
		t.Errorf("ParseForwarder(%q, %q) = %+v, %v; want [%+v]", comm, argv, fws, ok, want)
	}

	waitFor(t, time.Minute, "the page through slirp4netns", func() (bool, string) {
		body, err := httpGet(local)
		return err == nil && body == content, fmt.Sprintf("%q, %v", body, err)
	})
}
