package cli

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/testutil"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

// TestWaitListening starts a listener while wait polls: wait exits 0 and
// names it. (The delay only lets wait start first; nothing is timed.)
func TestWaitListening(t *testing.T) {
	port := testutil.FreePort(t)
	opened := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			err = wine.Touch(ln.(*net.TCPListener))
			t.Cleanup(func() { ln.Close() })
		}
		opened <- err
	}()
	code, out, errs := run(t, "wait", strconv.Itoa(port), "--listening", "--timeout", "30s", "--interval", "50ms")
	if err := <-opened; err != nil {
		t.Fatalf("listening on %d: %v", port, err)
	}
	if code != ExitOK || out != "tcp/"+strconv.Itoa(port)+" is listening: 127.0.0.1:"+strconv.Itoa(port)+"\n" {
		t.Errorf("wait --listening: exit %d, stdout %q, stderr %q; want 0 and the listener", code, out, errs)
	}
}

// TestWaitFree closes a listener while wait polls: wait exits 0.
func TestWaitFree(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := wine.Touch(ln.(*net.TCPListener)); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	go func() {
		time.Sleep(300 * time.Millisecond)
		ln.Close()
	}()
	code, out, errs := run(t, "wait", "tcp/"+port, "--free", "--timeout", "30s")
	if code != ExitOK || out != "tcp/"+port+" is free\n" {
		t.Errorf("wait --free: exit %d, stdout %q, stderr %q; want 0, free", code, out, errs)
	}
}

// TestWaitTimeout: a port that stays held times --free out with exit 1
// and one line naming the holder; a free port times --listening out.
func TestWaitTimeout(t *testing.T) {
	_, port := listener(t)
	pid := strconv.Itoa(os.Getpid())
	code, out, errs := run(t, "wait", port, "--free", "--timeout", "300ms")
	want := "whobinds: tcp/" + port + " is still listening after 300ms: 127.0.0.1:" + port + " ("
	if code != ExitNoMatch || out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, want) || !strings.Contains(errs, "pid "+pid+")") {
		t.Errorf("wait --free on a held port: exit %d, stdout %q, stderr %q; want 1 and one line starting %q naming pid %s", code, out, errs, want, pid)
	}
	free := strconv.Itoa(testutil.FreePort(t))
	code, out, errs = run(t, "wait", free, "--listening", "--timeout", "300ms", "--addr", "127.0.0.1")
	if code != ExitNoMatch || out != "" || errs != "whobinds: nothing listens on tcp/127.0.0.1:"+free+" after 300ms\n" {
		t.Errorf("wait --listening on a free port: exit %d, stdout %q, stderr %q; want 1 and one line", code, out, errs)
	}
}
