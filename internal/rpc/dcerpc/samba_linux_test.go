package dcerpc

// Lookup against a real endpoint mapper: Samba's samba-dcerpcd and a
// provisioned Samba AD DC, each run in network, mount and PID namespaces
// the test creates (testutil.InNamespaces) with only lo, compared with
// Impacket (testdata/epm_reference.py) and with the listening sockets ss
// reports there.
//
// Needs root, unshare(1), iproute2 (ip, ss), Debian's samba (samba-dcerpcd
// and its rpcd_* helpers), samba-ad-dc and samba-ad-provision for the DC,
// and python3-impacket for /usr/bin/python3.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/testutil"
)

func TestSambaEndpointMapper(t *testing.T) {
	if !testutil.InNamespaces(t) {
		return
	}
	ss := testutil.NeedCommand(t, "ss")
	python := impacketPython(t)
	start := time.Now()

	pid := testutil.StartSambaDcerpcd(t)
	t.Logf("samba-dcerpcd (pid %d) ready after %v", pid, time.Since(start).Round(time.Millisecond))
	entries := checkMap(t, mapCheck{ss: ss, python: python, root: pid})

	// Small fragments: Samba splits the same map into fragments of 2048
	// bytes. (It sends 2048-byte fragments even to a client that offers a
	// smaller max_recv_frag, such as C706's minimum 1432.)
	small, err := lookupLocal(Limits{MaxFragment: 2048})
	if err != nil {
		t.Errorf("Lookup with MaxFragment 2048 = %v", err)
	} else if !slices.Equal(referenceLines(small), referenceLines(entries)) {
		t.Errorf("Lookup with MaxFragment 2048 = %q; want %q", referenceLines(small), referenceLines(entries))
	}

	// A limit below the map's size ends with ErrLimit.
	if _, err := lookupLocal(Limits{MaxEntries: 5}); !errors.Is(err, ErrLimit) {
		t.Errorf("Lookup with MaxEntries 5 = %v; want ErrLimit", err)
	}
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}

func TestSambaADDCEndpointMapper(t *testing.T) {
	if !testutil.InNamespaces(t) {
		return
	}
	ss := testutil.NeedCommand(t, "ss")
	tool := testutil.NeedCommand(t, "samba-tool")
	samba := "/usr/sbin/samba"
	for _, p := range []string{samba, "/usr/share/samba/setup/ad-schema"} {
		if _, err := os.Stat(p); err != nil {
			testutil.Missing(t, "%s missing (Debian packages samba-ad-dc, samba-ad-provision): %v", p, err)
		}
	}
	python := impacketPython(t)
	start := time.Now()

	conf := provisionDC(t, tool)
	t.Logf("provisioned in %v", time.Since(start).Round(time.Millisecond))
	pid, exited := testutil.StartProcessGroup(t, exec.Command(samba, "--foreground",
		"--configfile="+conf, "--debug-stdout", "--debuglevel=1"))

	// samba has no ready signal: wait until the map answers and stays the
	// same for a second (its services register as they start).
	var last []string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		entries, err := lookupLocal(Limits{})
		lines := referenceLines(entries)
		if err == nil && len(lines) > 0 && slices.Equal(lines, last) {
			break
		}
		last = lines
		select {
		case <-exited:
			t.Fatalf("samba exited before its endpoint map answered (last lookup: %v)", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("samba AD DC: no stable endpoint map after 90 s; last lookup: %d entries, %v", len(entries), err)
		}
	}
	t.Logf("samba (pid %d) answered after %v", pid, time.Since(start).Round(time.Millisecond))
	entries := checkMap(t, mapCheck{ss: ss, python: python, root: pid})
	// What makes it a DC: netlogon and directory replication on TCP.
	for _, want := range []string{"MS-NRPC (logon)", "MS-DRSR (drsuapi)"} {
		if !slices.ContainsFunc(entries, func(e Entry) bool { return e.Protocol == ProtoTCP && e.Name() == want }) {
			t.Errorf("the DC's map has no %s on TCP: %q", want, referenceLines(entries))
		}
	}
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}

// provisionDC provisions an AD domain into a temporary directory, with
// every directory Samba writes to inside it, and returns its smb.conf.
func provisionDC(t *testing.T, tool string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"domain", "provision", "--realm=WB.TEST", "--domain=WB", "--server-role=dc",
		"--dns-backend=NONE", "--adminpass=Wb-" + strconv.Itoa(os.Getpid()) + "-Passw0rd!", "--host-name=wbdc",
		"--targetdir=" + dir, "--option=interfaces=lo", "--option=bind interfaces only=yes",
		"--option=log file=" + filepath.Join(dir, "log.%m")}
	// Samba creates these itself, with the permissions it insists on.
	for _, d := range []string{"pid directory", "ncalrpc dir", "winbindd socket directory", "ntp signd socket directory", "usershare path"} {
		args = append(args, "--option="+d+"="+filepath.Join(dir, strings.ReplaceAll(d, " ", "-")))
	}
	if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("samba-tool domain provision: %v\n%s", err, out)
	}
	return filepath.Join(dir, "etc", "smb.conf")
}

// lookupLocal runs Lookup on 127.0.0.1:135.
func lookupLocal(lim Limits) ([]Entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Lookup(ctx, "127.0.0.1:135", lim)
}

type mapCheck struct {
	ss, python string
	// root is the server's main process; listeners must be held by it or
	// its descendants.
	root int
}

// checkMap compares whobinds' map of the endpoint mapper on lo with
// Impacket's, and its TCP endpoints with the listeners of the server's
// processes. It returns whobinds' entries.
func checkMap(t *testing.T, c mapCheck) []Entry {
	t.Helper()
	// Impacket first: if the map grew between the two lookups, whobinds'
	// would still have to hold every entry of the reference.
	out, err := exec.Command(c.python, "testdata/epm_reference.py", "127.0.0.1", "135").Output()
	if err != nil {
		t.Fatalf("epm_reference.py: %v: %s", err, stderrOf(err))
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(want) < 10 {
		t.Fatalf("Impacket listed only %d entries: %q", len(want), out)
	}
	entries, err := lookupLocal(Limits{})
	if err != nil {
		t.Fatalf("Lookup(127.0.0.1:135) = %v", err)
	}
	t.Logf("Impacket: %d entries; whobinds: %d", len(want), len(entries))
	got := referenceLines(entries)
	for _, line := range want {
		if i := slices.Index(got, line); i >= 0 {
			got = slices.Delete(got, i, i+1)
			continue
		}
		t.Errorf("Impacket lists %q; whobinds' map does not have it", line)
	}
	if len(got) > 0 {
		t.Logf("entries whobinds lists beyond Impacket's: %q", got)
	}

	// Every TCP endpoint is a socket that the server's processes listen
	// on. A tower address of 0.0.0.0 means any of the server's IPv4
	// addresses.
	listeners := tcpListeners(t, c.ss)
	tcp := 0
	for _, e := range entries {
		if e.Protocol != ProtoTCP {
			continue
		}
		tcp++
		var owners []string
		for _, l := range listeners {
			ipv4 := strings.Contains(l.addr, ".")
			if l.port != e.Port || !(l.addr == e.Host || l.addr == "*" || l.addr == "0.0.0.0" || (e.Host == "0.0.0.0" && ipv4)) {
				continue
			}
			for _, u := range l.users {
				if testutil.DescendsFrom(u.pid, c.root) {
					owners = append(owners, fmt.Sprintf("%s[%d]", u.name, u.pid))
				}
			}
		}
		if len(owners) == 0 {
			t.Errorf("%s (%s): no process of server %d listens on %s:%d; listeners: %+v",
				e.Binding(), e.Annotation, c.root, e.Host, e.Port, listeners)
		} else {
			t.Logf("%s %s: %s", e.Binding(), e.Name(), strings.Join(owners, ", "))
		}
	}
	if tcp == 0 {
		t.Errorf("no ncacn_ip_tcp entries in the map: %q", referenceLines(entries))
	}
	return entries
}

// impacketPython returns a python3 that can import impacket. Debian's
// python3-impacket installs for /usr/bin/python3, which may not be the
// first python3 on PATH.
func impacketPython(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import impacket.dcerpc.v5.epm").Run() == nil {
			return p
		}
	}
	testutil.Missing(t, "no python3 can import impacket (Debian package python3-impacket)")
	return ""
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

type listener struct {
	addr  string
	port  uint16
	users []user
}

type user struct {
	name string
	pid  int
}

var ssUser = regexp.MustCompile(`\("([^"]*)",pid=(\d+),fd=\d+\)`)

// tcpListeners lists the TCP listeners with their processes (ss -tlnpH).
func tcpListeners(t *testing.T, ss string) []listener {
	t.Helper()
	out, err := exec.Command(ss, "-tlnpH").Output()
	if err != nil {
		t.Fatalf("ss -tlnpH: %v: %s", err, stderrOf(err))
	}
	var ls []listener
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue
		}
		i := strings.LastIndexByte(f[3], ':')
		port, err := strconv.ParseUint(f[3][i+1:], 10, 16)
		if i < 0 || err != nil {
			t.Fatalf("ss line %q: bad local address", sc.Text())
		}
		l := listener{addr: strings.Trim(f[3][:i], "[]"), port: uint16(port)}
		for _, m := range ssUser.FindAllStringSubmatch(strings.Join(f[5:], " "), -1) {
			pid, _ := strconv.Atoi(m[2])
			l.users = append(l.users, user{m[1], pid})
		}
		ls = append(ls, l)
	}
	return ls
}
