package sockdiag

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/model"
)

var captureFlag = flag.Bool("capture", false, "rewrite testdata/captured from the running kernel")

// TestCapture records one reply message per kind of socket into
// testdata/captured, for TestCapturedMessages and the fuzz seeds. It runs
// only with -capture:
//
//	go test -run '^TestCapture$' -capture ./internal/linux/sockdiag
func TestCapture(t *testing.T) {
	if !*captureFlag {
		t.Skip("run with -capture to rewrite testdata/captured")
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	release := unix.ByteSliceToString(uts.Release[:])
	cgroup, _ := cgroupV2ID()
	c := dial(t, -1)
	files := map[string]string{
		"tcp4 listener":            "tcp4-listener",
		"tcp6 v6only listener":     "tcp6-v6only-listener",
		"tcp6 dual-stack listener": "tcp6-dualstack-listener",
		"udp4":                     "udp4",
		"udp6 v6only":              "udp6-v6only",
		"tcp4 client":              "tcp4-established",
		"tcp6 server":              "tcp6-established",
	}
	dir := filepath.Join("testdata", "captured")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range openTestSockets(t) {
		file, ok := files[s.name]
		if !ok {
			continue
		}
		q := s.query()
		req := Request{Family: AFInet, Protocol: uint8(q.Proto), States: uint32(model.AllStates)}
		if q.Family == 6 {
			req.Family = AFInet6
		}
		port := s.want.Local.Port()
		bc, err := AppendPortFilter(nil, []PortRange{{port, port}})
		if err != nil {
			t.Fatal(err)
		}
		req.Bytecode = bc
		var found []byte
		for _, msg := range rawDump(t, c, &req) {
			var m Message
			if err := m.UnmarshalBinary(msg[nlmsgHdrLen:]); err != nil {
				t.Fatal(err)
			}
			if uint64(m.Inode) == s.want.Inode {
				found = msg
			}
		}
		if found == nil {
			t.Fatalf("%v: not in the dump", s)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# A %s, captured from Linux %s by TestCapture (capture_linux_test.go).\n", s.name, release)
		b.WriteString("# msg is the whole netlink message (header included, host byte order: little endian).\n")
		b.WriteString("# The other lines were read from the socket itself (getsockname, getpeername, fstat,\n")
		b.WriteString("# IPV6_V6ONLY, /proc/sys/net/core/somaxconn, /proc/self/cgroup), not from the dump.\n")
		proto := "tcp"
		if s.want.Proto == model.UDP {
			proto = "udp"
		}
		fmt.Fprintf(&b, "proto: %s\n", proto)
		fmt.Fprintf(&b, "local: %v\n", s.want.Local)
		if s.want.Remote.IsValid() {
			fmt.Fprintf(&b, "remote: %v\n", s.want.Remote)
		} else {
			b.WriteString("remote:\n")
		}
		fmt.Fprintf(&b, "state: %v\n", s.want.State)
		fmt.Fprintf(&b, "inode: %d\n", s.want.Inode)
		fmt.Fprintf(&b, "uid: %d\n", s.want.UID)
		fmt.Fprintf(&b, "recvq: %d\n", s.want.RecvQ)
		fmt.Fprintf(&b, "sendq: %d\n", s.want.SendQ)
		fmt.Fprintf(&b, "v6only: %s\n", map[model.Tristate]string{model.Unknown: "unknown", model.Yes: "yes", model.No: "no"}[s.want.V6Only])
		fmt.Fprintf(&b, "cgroup: %d\n", cgroup)
		b.WriteString("msg:\n")
		for len(found) > 0 {
			n := min(32, len(found))
			b.WriteString(hex.EncodeToString(found[:n]) + "\n")
			found = found[n:]
		}
		p := filepath.Join(dir, file+".txt")
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", p)
	}
}
