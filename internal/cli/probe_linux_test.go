package cli

import (
	"bytes"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/whobinds/whobinds/internal/testutil"
)

// TestProbeRedisOwner runs redis-server on a free port: probe names the
// protocol and version, and the redis-server process that holds the port.
func TestProbeRedisOwner(t *testing.T) {
	server := testutil.NeedCommand(t, "redis-server")
	port := strconv.Itoa(testutil.FreePort(t))
	pid, _ := testutil.StartProcessGroup(t, exec.Command(server, "--port", port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--daemonize", "no", "--dir", t.TempDir(), "--logfile", ""))
	testutil.WaitFor(t, "redis-server on "+port, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	code, out, errs := run(t, "probe", port)
	if code != ExitOK {
		t.Fatalf("probe %s: exit %d, stderr %q", port, code, errs)
	}
	for _, want := range []string{
		"127.0.0.1:" + port + "  redis  Redis ",
		"  redis     answers commands without a password (PING: PONG), mode standalone\n",
		"  owner     redis-server, pid " + strconv.Itoa(pid) + ", user root, on 127.0.0.1:" + port + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("probe %s lacks %q:\n%s", port, want, out)
		}
	}
}

// TestProbeListenerOnOtherAddress: without a HOST, probe connects where
// the listener is bound (127.0.0.2 here); asked for 127.0.0.1, it says
// where to look instead.
func TestProbeListenerOnOtherAddress(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listening on 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-whobinds_test\r\n"))
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	code, out, errs := run(t, "probe", port)
	if code != ExitOK || !strings.HasPrefix(out, "127.0.0.2:"+port+"  ssh  whobinds_test\n") {
		t.Errorf("probe %s: exit %d, stderr %q:\n%s\nwant ssh on 127.0.0.2", port, code, errs, out)
	}
	code, out, errs = run(t, "probe", "127.0.0.1:"+port)
	want := "whobinds: nothing answers on 127.0.0.1:" + port + " (TCP port " + port + " listens on 127.0.0.2 only: try 127.0.0.2:" + port + ")\n"
	if code != ExitNoMatch || out != "" || errs != want {
		t.Errorf("probe 127.0.0.1:%s: exit %d, stdout %q, stderr %q; want %d and %q", port, code, out, errs, ExitNoMatch, want)
	}
}

// TestProbeHiddenOwner runs the real binary as nobody against a listener
// root holds: the service is identified, the owner marked hidden with the
// command that shows it.
func TestProbeHiddenOwner(t *testing.T) {
	testutil.NeedRoot(t)
	bin := binary(t)
	port := smtpListener(t)
	cmd := exec.Command(bin, "probe", port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Dir = "/"
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("probe %s as nobody: %v, stderr %q", port, err, errb.String())
	}
	for _, want := range []string{
		"127.0.0.1:" + port + "  smtp\n",
		"  owner     hidden — needs root\n",
		"            to see it: sudo " + bin + " probe " + port + "\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("probe %s as nobody lacks %q:\n%s", port, want, out.String())
		}
	}
}
