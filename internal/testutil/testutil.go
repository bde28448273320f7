// Package testutil has the helpers tests share: skipping integration tests
// whose component is missing (and failing instead when CI demands them),
// root checks, and golden files.
//
// CI sets WHOBINDS_REQUIRE_INTEGRATION=1. Under it, a test that would skip
// because a command, a privilege or a kernel feature is missing fails, so a
// broken CI machine cannot pass by skipping. The one exception is a kernel
// feature that the running kernel's own configuration (/proc/config.gz)
// says was not built: no package can install that.
package testutil

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// RequireEnv is the environment variable that turns skips into failures.
const RequireEnv = "WHOBINDS_REQUIRE_INTEGRATION"

// Strict reports whether missing integration components are failures.
func Strict() bool { return os.Getenv(RequireEnv) == "1" }

// Missing skips the test because a component is missing, or fails it when
// Strict. Use it for everything CI is expected to provide.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s (%s=1: integration components must be present)", msg, RequireEnv)
	}
	t.Skip(msg)
}

// NeedRoot skips (or fails, when Strict) unless the test runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root")
	}
}

// NeedCommand returns the path of a command, or skips (fails when Strict)
// when it is not installed.
func NeedCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "command %s not installed", name)
	}
	return p
}

// NeedKernel skips the test when the running kernel was built without the
// option (e.g. "CONFIG_GENEVE"). It skips even when Strict, because no
// package can add it; when the kernel's configuration is unreadable the
// caller's own attempt must decide.
func NeedKernel(t testing.TB, option string) {
	t.Helper()
	if v, ok := KernelConfig(option); ok && v != "y" && v != "m" {
		t.Skipf("the running kernel was built without %s (/proc/config.gz)", option)
	}
}

var kconfig = sync.OnceValue(func() map[string]string {
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		return nil
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil
	}
	m := map[string]string{}
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "# "); ok {
			if name, ok := strings.CutSuffix(k, " is not set"); ok {
				m[name] = "n"
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
})

// KernelConfig returns the value of a kernel build option ("y", "m", "n")
// and whether the configuration could be read.
func KernelConfig(option string) (string, bool) {
	m := kconfig()
	if m == nil {
		return "", false
	}
	v, ok := m[option]
	if !ok {
		v = "n"
	}
	return v, true
}

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// Golden compares got with testdata/NAME, or rewrites the file under -update.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("output differs from %s (run go test -update if the change is intended):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// Ports FreePort picks from: below every system's ephemeral range (Linux
// 32768-60999, Windows, macOS and the BSDs 49152-65535), and clear of the
// ports the knowledge base names (11434 and 15672 are the nearest).
const (
	freePortFirst = 12000
	freePortLast  = 14999
)

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago. It
// is picked at random below the ephemeral range, not handed out by the
// kernel: a port from the ephemeral range can be taken by a client
// connection of a test running in parallel before the caller binds it
// (seen as another test's TIME-WAIT leftover on the port of a check test,
// in a run of the whole suite four times over).
func FreePort(t testing.TB) int {
	t.Helper()
	ln := Listen(t, "tcp4", "127.0.0.1")
	ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Listen listens on network ("tcp", "tcp4" or "tcp6") and host at a port
// picked as FreePort picks one, trying other ports while the one picked is
// taken. Use it instead of port 0 where a test binds other addresses or
// families on the same port next: beside a port the kernel picked from the
// ephemeral range, another test's client connection may hold those. The
// listener is closed when the test ends.
func Listen(t testing.TB, network, host string) net.Listener {
	t.Helper()
	var last error
	for range 200 {
		port := freePortFirst + rand.IntN(freePortLast-freePortFirst+1)
		ln, err := net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			last = err
			continue
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	t.Fatalf("no free %s port in %d-%d on %s after 200 tries; last: %v", network, freePortFirst, freePortLast, host, last)
	return nil
}
