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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/testutil"
)

func TestRpcbindReal(t *testing.T) {
	if !testutil.InNamespaces(t) {
		return
	}
	testutil.StartRPCBind(t)
	rpcinfo := testutil.Sbin(t, "rpcinfo")

	wantV2 := parseRpcinfoP(t, testutil.Run(t, rpcinfo, "-p", "127.0.0.1"))
	wantV4 := parseRpcinfo(t, testutil.Run(t, rpcinfo, "127.0.0.1"))
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
	wantV2 := parseRpcinfoP(t, testutil.Run(t, rpcinfo, "-p", "127.0.0.1"))
	wantV4 := parseRpcinfo(t, testutil.Run(t, rpcinfo, "127.0.0.1"))
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
