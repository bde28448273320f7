package sockdiag

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/model"
)

// A capture is one SOCK_DIAG_BY_FAMILY reply message recorded from a real
// kernel (testdata/captured/*.txt, written by TestCapture in
// capture_linux_test.go), with what the socket itself said about it. The
// want fields were read from the socket (getsockname, getpeername, fstat,
// IPV6_V6ONLY, /proc/self/cgroup), not from the dump, so they check the
// decoder independently.
type capture struct {
	name string
	// msg is the whole netlink message, header included.
	msg []byte
	// want is the socket the message must decode to (NetNS left zero).
	want model.Socket
	// cgroup is the ID of the cgroup v2 the socket was created in, 0 when
	// it was not known at capture time.
	cgroup uint64
}

func loadCaptures(tb testing.TB) []capture {
	tb.Helper()
	if ne.Uint16([]byte{1, 0}) != 1 {
		return nil // captured on a little-endian machine
	}
	paths, err := filepath.Glob(filepath.Join("testdata", "captured", "*.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	var cs []capture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		c, err := parseCapture(b)
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		c.name = strings.TrimSuffix(filepath.Base(p), ".txt")
		cs = append(cs, c)
	}
	return cs
}

func parseCapture(b []byte) (capture, error) {
	var c capture
	var hexText strings.Builder
	inMsg := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if inMsg {
			hexText.WriteString(strings.TrimSpace(line))
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return c, fmt.Errorf("line %q: want key: value", line)
		}
		v = strings.TrimSpace(v)
		var err error
		switch k {
		case "proto":
			switch v {
			case "tcp":
				c.want.Proto = model.TCP
			case "udp":
				c.want.Proto = model.UDP
			default:
				return c, fmt.Errorf("proto %q", v)
			}
		case "local":
			c.want.Local, err = netip.ParseAddrPort(v)
		case "remote":
			if v != "" {
				c.want.Remote, err = netip.ParseAddrPort(v)
			}
		case "state":
			c.want.State, err = parseStateName(v)
		case "inode":
			c.want.Inode, err = strconv.ParseUint(v, 10, 64)
		case "uid":
			var u uint64
			u, err = strconv.ParseUint(v, 10, 32)
			c.want.UID = uint32(u)
		case "recvq", "sendq":
			var q uint64
			q, err = strconv.ParseUint(v, 10, 32)
			if k == "recvq" {
				c.want.RecvQ = uint32(q)
			} else {
				c.want.SendQ = uint32(q)
			}
		case "v6only":
			switch v {
			case "yes":
				c.want.V6Only = model.Yes
			case "no":
				c.want.V6Only = model.No
			case "unknown":
			default:
				return c, fmt.Errorf("v6only %q", v)
			}
		case "cgroup":
			c.cgroup, err = strconv.ParseUint(v, 10, 64)
		case "msg":
			inMsg = true
		default:
			return c, fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return c, fmt.Errorf("%s: %v", k, err)
		}
	}
	msg, err := hex.DecodeString(hexText.String())
	if err != nil {
		return c, fmt.Errorf("msg: %v", err)
	}
	if len(msg) < nlmsgHdrLen {
		return c, fmt.Errorf("msg: %d bytes", len(msg))
	}
	c.msg = msg
	return c, nil
}

func parseStateName(name string) (model.State, error) {
	for s := model.StateUnknown; s <= model.BoundInactive; s++ {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown state %q", name)
}

func TestCapturedMessages(t *testing.T) {
	cs := loadCaptures(t)
	if len(cs) == 0 {
		t.Skip("no captures for this byte order")
	}
	for _, c := range cs {
		t.Run(c.name, func(t *testing.T) {
			var m Message
			seq := ne.Uint32(c.msg[8:12])
			got, st, err := appendReply(nil, c.msg, seq, c.want.Proto, model.NetNS{}, &m)
			if err != nil {
				t.Fatalf("appendReply = %v", err)
			}
			if st.done || st.interrupted {
				t.Errorf("appendReply status = %+v; want neither done nor interrupted", st)
			}
			if len(got) != 1 {
				t.Fatalf("appendReply decoded %d sockets; want 1", len(got))
			}
			if diff := cmp.Diff(c.want, got[0], cmpAddrs); diff != "" {
				t.Errorf("decoded socket mismatch (-want +got):\n%s", diff)
			}
			// Every full socket carries INET_DIAG_SHUTDOWN; an open one
			// has shut nothing down.
			if !m.HasShutdown || m.Shutdown != 0 {
				t.Errorf("Shutdown = %d, HasShutdown = %v; want 0, true", m.Shutdown, m.HasShutdown)
			}
			if c.cgroup != 0 && m.CgroupID != c.cgroup {
				t.Errorf("CgroupID = %d; want %d", m.CgroupID, c.cgroup)
			}
			// The message survives a round trip through the encoder.
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary = %v", err)
			}
			var m2 Message
			if err := m2.UnmarshalBinary(b); err != nil {
				t.Fatalf("UnmarshalBinary(MarshalBinary()) = %v", err)
			}
			if diff := cmp.Diff(m, m2, cmpAddrs); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
