package firewall

// Integration tests: real rulesets loaded with nft, iptables-legacy and
// iptables-nft into network namespaces the tests create, read back by Read
// running inside them, and checked against real traffic between two
// namespaces joined by a veth pair: what the evaluator says about a port
// must be what happens to a connection to it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/testutil"
)

// The environment of the helper process that runs Read inside a network
// namespace (see TestReadHelper).
const (
	helperEnv = "WHOBINDS_FIREWALL_HELPER" // the packets to evaluate, as JSON
	hideEnv   = "WHOBINDS_FIREWALL_HIDE"   // programs Read must not find, comma-separated
)

type helperOut struct {
	Err       string
	Decisions []Decision
}

// TestReadHelper is not a test: run by readIn inside a network namespace,
// it reads that namespace's firewall with Read and prints the decisions for
// the packets it is given.
func TestReadHelper(t *testing.T) {
	in := os.Getenv(helperEnv)
	if in == "" {
		return
	}
	var packets []Packet
	if err := json.Unmarshal([]byte(in), &packets); err != nil {
		t.Fatal(err)
	}
	hidden := strings.Split(os.Getenv(hideEnv), ",")
	tools := Tools{LookPath: func(file string) (string, error) {
		for _, h := range hidden {
			if h != "" && (file == h || strings.HasPrefix(file, h+"-")) {
				return "", exec.ErrNotFound
			}
		}
		return exec.LookPath(file)
	}}
	rs, err := tools.Read(context.Background())
	var out helperOut
	if err != nil {
		out.Err = err.Error()
	}
	for _, p := range packets {
		out.Decisions = append(out.Decisions, rs.Evaluate(p))
	}
	b, _ := json.Marshal(out)
	fmt.Printf("\n--BEGIN--%s--END--\n", b)
}

// readIn runs Read inside the namespace, in a process of its own, hiding
// the programs named.
func readIn(t *testing.T, ns string, hide []string, packets []Packet) helperOut {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(packets)
	cmd := exec.Command("ip", "netns", "exec", ns, self, "-test.run=^TestReadHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(in), hideEnv+"="+strings.Join(hide, ","))
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper in %s: %v\n%s", ns, err, b)
	}
	_, rest, ok1 := bytes.Cut(b, []byte("--BEGIN--"))
	body, _, ok2 := bytes.Cut(rest, []byte("--END--"))
	if !ok1 || !ok2 {
		t.Fatalf("helper in %s printed no result:\n%s", ns, b)
	}
	var out helperOut
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("helper output %q: %v", body, err)
	}
	if len(out.Decisions) != len(packets) {
		t.Fatalf("helper returned %d decisions for %d packets", len(out.Decisions), len(packets))
	}
	return out
}

func needTools(t *testing.T, names ...string) {
	t.Helper()
	testutil.NeedRoot(t)
	for _, n := range append([]string{"ip"}, names...) {
		testutil.NeedCommand(t, n)
	}
}

func runCmd(t *testing.T, stdin string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
}

// A pair is two network namespaces joined by a veth pair: the server's
// end is serverIf with 10.213.0.1 and fd77::1, the client's 10.213.0.2
// and fd77::2.
type pair struct {
	server, client string
}

const serverIf = "wbs0"

var (
	server4 = netip.MustParseAddr("10.213.0.1")
	client4 = netip.MustParseAddr("10.213.0.2")
	server6 = netip.MustParseAddr("fd77::1")
	client6 = netip.MustParseAddr("fd77::2")
)

var nsSeq struct {
	sync.Mutex
	n int
}

func newNetns(t *testing.T) string {
	t.Helper()
	nsSeq.Lock()
	nsSeq.n++
	name := fmt.Sprintf("wbfw-%d-%d", os.Getpid(), nsSeq.n)
	nsSeq.Unlock()
	runCmd(t, "", "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	runCmd(t, "", "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

func newPair(t *testing.T) pair {
	t.Helper()
	p := pair{server: newNetns(t), client: newNetns(t)}
	runCmd(t, "", "ip", "link", "add", "wbfwtmp", "netns", p.server, "type", "veth", "peer", "name", "wbc0", "netns", p.client)
	runCmd(t, "", "ip", "-n", p.server, "link", "set", "wbfwtmp", "name", serverIf)
	for _, c := range [][]string{
		{"-n", p.server, "addr", "add", "10.213.0.1/30", "dev", serverIf},
		{"-n", p.server, "addr", "add", "fd77::1/64", "dev", serverIf, "nodad"},
		{"-n", p.server, "link", "set", serverIf, "up"},
		{"-n", p.client, "addr", "add", "10.213.0.2/30", "dev", "wbc0"},
		{"-n", p.client, "addr", "add", "fd77::2/64", "dev", "wbc0", "nodad"},
		{"-n", p.client, "link", "set", "wbc0", "up"},
	} {
		runCmd(t, "", "ip", c...)
	}
	return p
}

// inNetns runs fn on a thread of its own inside the namespace. Sockets fn
// opens stay in that namespace. The thread goes back to its namespace, or
// is thrown away if it cannot.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

type probe struct {
	proto model.Proto
	port  uint16
	v6    bool
}

func (pr probe) String() string {
	if pr.v6 {
		return fmt.Sprintf("%v6/%d", pr.proto, pr.port)
	}
	return fmt.Sprintf("%v/%d", pr.proto, pr.port)
}

// serve listens on every probe's port on the server's addresses: TCP
// accepts and closes, UDP echoes.
func serve(t *testing.T, p pair, probes []probe) {
	t.Helper()
	err := inNetns(p.server, func() error {
		for _, pr := range probes {
			addr := netip.AddrPortFrom(server4, pr.port)
			if pr.v6 {
				addr = netip.AddrPortFrom(server6, pr.port)
			}
			switch pr.proto {
			case model.TCP:
				ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
				if err != nil {
					return err
				}
				t.Cleanup(func() { ln.Close() })
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						c.Close()
					}
				}()
			case model.UDP:
				c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
				if err != nil {
					return err
				}
				t.Cleanup(func() { c.Close() })
				go func() {
					buf := make([]byte, 64)
					for {
						n, from, err := c.ReadFromUDPAddrPort(buf)
						if err != nil {
							return
						}
						c.WriteToUDPAddrPort(buf[:n], from)
					}
				}()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listening in %s: %v", p.server, err)
	}
}

// observeTimeout is how long a probe waits for an answer before calling
// the packet dropped: a generous ceiling, since an accepted or rejected
// packet on a veth pair is answered within milliseconds.
const observeTimeout = 3 * time.Second

// observe connects from the client to each probe, all at once, and says
// what the firewall did: the connection (or the echo) succeeded, an error
// came back at once (a TCP reset or an ICMP error), or nothing came back.
func observe(t *testing.T, p pair, probes []probe) []Verdict {
	t.Helper()
	got := make([]Verdict, len(probes))
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	for i, pr := range probes {
		wg.Go(func() {
			errs[i] = inNetns(p.client, func() error {
				dst := netip.AddrPortFrom(server4, pr.port)
				if pr.v6 {
					dst = netip.AddrPortFrom(server6, pr.port)
				}
				var err error
				switch pr.proto {
				case model.TCP:
					var c net.Conn
					c, err = net.DialTimeout("tcp", dst.String(), observeTimeout)
					if err == nil {
						c.Close()
					}
				case model.UDP:
					var c *net.UDPConn
					c, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
					if err != nil {
						return err
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(observeTimeout))
					if _, err = c.Write([]byte("ping")); err == nil {
						_, err = c.Read(make([]byte, 64))
					}
				}
				var ne net.Error
				switch {
				case err == nil:
					got[i] = Accept
				case errors.As(err, &ne) && ne.Timeout():
					got[i] = Drop
				case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
					errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EACCES):
					got[i] = Reject
				default:
					return fmt.Errorf("probe %v: %w", pr, err)
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("probing %v from %s: %v", probes[i], p.client, err)
		}
	}
	return got
}

// packet is the evaluator's view of a probe: from the client, arriving on
// the server's veth.
func (pr probe) packet(fromClient bool) Packet {
	pk := Packet{Proto: pr.proto, Dst: server4, DstPort: pr.port, InIface: serverIf}
	if pr.v6 {
		pk.Dst = server6
	}
	if fromClient {
		pk.Src = client4
		if pr.v6 {
			pk.Src = client6
		}
	}
	return pk
}

// A trafficCase is a firewall loaded into the server namespace, and what
// each probe should meet, for an ordinary sender (generic) and for the
// client (which the rules may single out).
type trafficCase struct {
	name  string
	load  func(t *testing.T, ns string)
	needs []string
	// probes and the verdicts for an ordinary remote host, and for the
	// client itself (which the traffic check observes).
	probes  []probe
	generic []Verdict
	client  []Verdict
	// source is the Decision.Source every decision by a rule must have.
	source string
}

func nftLoad(ruleset string) func(t *testing.T, ns string) {
	return func(t *testing.T, ns string) { runCmd(t, ruleset, "ip", "netns", "exec", ns, "nft", "-f", "-") }
}

func iptLoad(restore, rules string) func(t *testing.T, ns string) {
	return func(t *testing.T, ns string) { runCmd(t, rules, "ip", "netns", "exec", ns, restore) }
}

const trafficNFT = `
table inet filter {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		tcp dport 88 notrack
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif lo accept
		meta l4proto ipv6-icmp accept
		tcp dport 22 accept
		tcp dport 23 reject with tcp reset
		tcp dport 24 reject with icmpx admin-prohibited
		udp dport 53 accept
		udp dport 69 reject
		ip saddr 10.213.0.2 tcp dport 5432 accept
		ip6 saddr fd77::2 tcp dport 5432 accept
		ip saddr != 10.213.0.2 tcp dport 6379 accept
		tcp dport 88 ct state untracked accept
		tcp dport { 8000-8010 } jump web
	}
	chain web {
		tcp dport 8005 accept
		return
	}
}
`

const trafficIptables = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:svc - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 69 -j REJECT --reject-with icmp-port-unreachable
-A INPUT -s 10.213.0.2/32 -p tcp -m tcp --dport 5432 -j ACCEPT
-A INPUT -p tcp -m multiport --dports 8000:8010 -m comment --comment "web \"ports\"" -j svc
-A INPUT -p udp -m udp --dport 53 -m state --state NEW -j ACCEPT
-A svc -p tcp -m tcp --dport 8005 -j ACCEPT
-A svc -j RETURN
COMMIT
`

func TestTraffic(t *testing.T) {
	needTools(t)
	A, D, R := Accept, Drop, Reject
	tcpP := func(port uint16) probe { return probe{proto: model.TCP, port: port} }
	udpP := func(port uint16) probe { return probe{proto: model.UDP, port: port} }
	tcp6P := func(port uint16) probe { return probe{proto: model.TCP, port: port, v6: true} }
	firewalld, err := os.ReadFile("testdata/src/firewalld.nft")
	if err != nil {
		t.Fatal(err)
	}
	marks, err := os.ReadFile("testdata/src/marks.nft")
	if err != nil {
		t.Fatal(err)
	}
	rawMangle, err := os.ReadFile("testdata/src/raw-mangle.rules")
	if err != nil {
		t.Fatal(err)
	}
	firewalldHere := strings.NewReplacer(`"eth0"`, `"`+serverIf+`"`, `"eth1"`, `"wbnone"`).Replace(string(firewalld))
	cases := []trafficCase{
		{
			name: "no firewall", load: func(*testing.T, string) {},
			probes:  []probe{tcpP(22), udpP(53), tcp6P(22)},
			generic: []Verdict{A, A, A}, client: []Verdict{A, A, A},
		},
		{
			name: "nft", load: nftLoad(trafficNFT), needs: []string{"nft"}, source: "nftables",
			probes:  []probe{tcpP(22), tcpP(23), tcpP(24), tcpP(25), udpP(53), udpP(69), udpP(70), tcpP(5432), tcpP(6379), tcpP(88), tcpP(8005), tcpP(8006), tcp6P(22), tcp6P(23), tcp6P(25), tcp6P(5432)},
			generic: []Verdict{A, R, R, D, A, R, D, D, A, A, A, D, A, R, D, D},
			client:  []Verdict{A, R, R, D, A, R, D, A, D, A, A, D, A, R, D, A},
		},
		{
			name: "iptables-legacy", load: iptLoad("iptables-legacy-restore", trafficIptables), needs: []string{"iptables-legacy-restore", "iptables-legacy-save"}, source: "iptables",
			probes:  []probe{tcpP(22), tcpP(23), tcpP(25), udpP(53), udpP(69), tcpP(5432), tcpP(8005), tcpP(8006)},
			generic: []Verdict{A, R, D, A, R, D, A, D},
			client:  []Verdict{A, R, D, A, R, A, A, D},
		},
		{
			name: "iptables-nft", load: iptLoad("iptables-nft-restore", trafficIptables), needs: []string{"iptables-nft-restore", "iptables-nft-save", "nft"}, source: "iptables-nft",
			probes:  []probe{tcpP(22), tcpP(23), tcpP(25), udpP(53), udpP(69), tcpP(5432), tcpP(8005), tcpP(8006)},
			generic: []Verdict{A, R, D, A, R, D, A, D},
			client:  []Verdict{A, R, D, A, R, A, A, D},
		},
		{
			// nft accepts 22 and 5432; legacy iptables drops all but 22:
			// the accept ends only nft's chain.
			name: "nft and iptables-legacy",
			load: func(t *testing.T, ns string) {
				nftLoad("table inet f {\n chain in {\n type filter hook input priority 0; policy accept;\n tcp dport { 22, 5432 } accept\n }\n}\n")(t, ns)
				iptLoad("iptables-legacy-restore", "*filter\n:INPUT DROP [0:0]\n-A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n")(t, ns)
			},
			needs:   []string{"nft", "iptables-legacy-restore", "iptables-legacy-save"},
			probes:  []probe{tcpP(22), tcpP(5432), tcp6P(5432)},
			generic: []Verdict{A, D, A}, client: []Verdict{A, D, A},
		},
		{
			name: "nft marks", load: nftLoad(string(marks)), needs: []string{"nft"}, source: "nftables",
			probes:  []probe{tcpP(5000), tcpP(5001), tcpP(5003), tcpP(5004), udpP(5001)},
			generic: []Verdict{D, R, A, D, A}, client: []Verdict{D, R, A, D, A},
		},
		{
			// raw and mangle before filter, notrack, marks set in mangle.
			name: "iptables-legacy raw and mangle", load: iptLoad("iptables-legacy-restore", string(rawMangle)),
			needs: []string{"iptables-legacy-restore", "iptables-legacy-save"}, source: "iptables",
			probes:  []probe{tcpP(4000), udpP(4001), tcpP(4002), tcpP(4003), tcpP(4004)},
			generic: []Verdict{D, A, D, D, A}, client: []Verdict{D, A, D, D, A},
		},
		{
			// The client's address is in firewalld's internal zone (by
			// source, 10.0.0.0/8); an ordinary host falls in public.
			name: "firewalld", load: nftLoad(firewalldHere), needs: []string{"nft"}, source: "nftables",
			probes:  []probe{tcpP(22), tcpP(9090), tcpP(5432), udpP(137), tcpP(12345), tcp6P(9090), tcp6P(5432)},
			generic: []Verdict{A, A, R, R, R, A, R},
			client:  []Verdict{A, R, A, A, R, A, R},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			needTools(t, tc.needs...)
			p := newPair(t)
			tc.load(t, p.server)
			serve(t, p, tc.probes)
			var packets []Packet
			for _, pr := range tc.probes {
				packets = append(packets, pr.packet(false), pr.packet(true))
			}
			out := readIn(t, p.server, nil, packets)
			if out.Err != "" {
				t.Fatalf("Read in %s: %s", p.server, out.Err)
			}
			seen := observe(t, p, tc.probes)
			for i, pr := range tc.probes {
				generic, client := out.Decisions[2*i], out.Decisions[2*i+1]
				if client.Verdict != seen[i] {
					t.Errorf("%v from the client: Evaluate = %+v; the kernel did: %v", pr, client, seen[i])
				}
				if client.Verdict != tc.client[i] {
					t.Errorf("%v from the client: Evaluate = %+v; want %v", pr, client, tc.client[i])
				}
				if generic.Verdict != tc.generic[i] {
					t.Errorf("%v from anywhere: Evaluate = %+v; want %v", pr, generic, tc.generic[i])
				}
				if tc.source != "" && generic.Rule != "" && generic.Source != tc.source {
					t.Errorf("%v: Evaluate().Source = %q; want %q (%+v)", pr, generic.Source, tc.source, generic)
				}
			}
		})
	}
}

// TestTrafficExceptions checks that the exceptions of an ordinary sender's
// decision name the client where the rules single it out.
func TestTrafficExceptions(t *testing.T) {
	needTools(t, "nft")
	ns := newNetns(t)
	nftLoad(trafficNFT)(t, ns)
	out := readIn(t, ns, nil, []Packet{
		{Proto: model.TCP, Dst: server4, DstPort: 5432, InIface: serverIf},
		{Proto: model.TCP, Family: 4, DstPort: 6379},
	})
	want := []string{
		"from 10.213.0.2: accept by inet filter input: ip saddr 10.213.0.2 tcp dport 5432 accept",
		"from 10.213.0.2: drop by inet filter input: policy drop",
	}
	for i, d := range out.Decisions {
		if len(d.Exceptions) != 1 || d.Exceptions[0] != want[i] {
			t.Errorf("Evaluate() = %+v; want the exception %q", d, want[i])
		}
	}
}

func TestReadWithoutNFT(t *testing.T) {
	needTools(t, "nft", "iptables-nft-restore", "iptables-nft-save")
	pk := []Packet{{Proto: model.TCP, Dst: server4, DstPort: 22}, {Proto: model.TCP, Dst: server4, DstPort: 25}}

	// Only iptables-nft's tables: iptables-nft-save shows them all.
	ns := newNetns(t)
	iptLoad("iptables-nft-restore", trafficIptables)(t, ns)
	out := readIn(t, ns, []string{"nft"}, pk)
	if out.Err != "" || out.Decisions[0].Verdict != Accept || out.Decisions[0].Source != "iptables-nft" || out.Decisions[1].Verdict != Drop {
		t.Errorf("Read without nft, iptables-nft only = %+v; want accept, then drop, by iptables-nft", out)
	}

	// A table of nft's own as well: the kernel lists it, nothing can read it.
	nftLoad("table inet mine {\n chain in {\n type filter hook input priority 10; policy accept;\n }\n}\n")(t, ns)
	out = readIn(t, ns, []string{"nft"}, pk)
	if d := out.Decisions[0]; d.Verdict != Unknown || !strings.Contains(d.Reason, "nft is not installed") || !strings.Contains(d.Reason, "inet mine") {
		t.Errorf("Read without nft, with an nft table = %+v; want Unknown naming inet mine", d)
	}
	if d := out.Decisions[1]; d.Verdict != Drop {
		t.Errorf("Read without nft, with an nft table: tcp/25 = %+v; want drop (iptables decides)", d)
	}
}

func TestReadNoTools(t *testing.T) {
	rs, err := Tools{LookPath: func(string) (string, error) { return "", exec.ErrNotFound }}.Read(context.Background())
	if !errors.Is(err, ErrNoTools) {
		t.Errorf("Read() error = %v; want ErrNoTools", err)
	}
	if d := rs.Evaluate(Packet{Proto: model.TCP, Family: 4, DstPort: 22}); d.Verdict != Unknown || !strings.Contains(d.Reason, "neither nft nor iptables-save") {
		t.Errorf("Evaluate() = %+v; want Unknown: no tools", d)
	}
}

func TestReadUnprivileged(t *testing.T) {
	needTools(t, "setpriv", "nft")
	// The real programs, as nobody.
	tools := Tools{Output: func(ctx context.Context, path string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", path}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%w: %s", err, stderr.String())
		}
		return out, nil
	}}
	rs, err := tools.Read(context.Background())
	if !errors.Is(err, ErrPermission) {
		t.Errorf("Read() as nobody: error = %v; want ErrPermission", err)
	}
	d := rs.Evaluate(Packet{Proto: model.TCP, Family: 4, DstPort: 22})
	if d.Verdict != Unknown || !strings.Contains(d.Reason, "needs root (CAP_NET_ADMIN)") {
		t.Errorf("Evaluate() as nobody = %+v; want Unknown: needs root", d)
	}
}

func TestReadTimeout(t *testing.T) {
	sleep := testutil.NeedCommand(t, "sleep")
	tools := Tools{
		LookPath: func(file string) (string, error) {
			if file == "nft" {
				return sleep, nil
			}
			return "", exec.ErrNotFound
		},
		Output: func(ctx context.Context, path string, args ...string) ([]byte, error) {
			return exec.CommandContext(ctx, path, "30").Output()
		},
		Timeout: 100 * time.Millisecond,
	}
	rs, err := tools.Read(context.Background())
	if err == nil {
		t.Fatalf("Read() with a hanging nft = nil error")
	}
	if d := rs.Evaluate(Packet{Proto: model.TCP, Family: 4, DstPort: 22}); d.Verdict != Unknown {
		t.Errorf("Evaluate() = %+v; want Unknown", d)
	}
}
