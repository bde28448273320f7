package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/probe"
	"github.com/whobinds/whobinds/internal/testutil"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

func TestProbeBadInput(t *testing.T) {
	checkBadInput(t, []badInput{
		{[]string{"probe", "0"}, "port 0"},
		{[]string{"probe", "abc"}, `"abc" is not a port number`},
		{[]string{"probe", "70000"}, "out of range"},
		{[]string{"probe", "localhost:"}, "is not a port number"},
		{[]string{"probe", "bad host:80"}, "neither an IP address nor a host name"},
		{[]string{"probe", "bad-.example:80"}, "neither an IP address nor a host name"},
		{[]string{"probe", "300.1.1.1:80"}, "neither an IP address nor a host name"},
		{[]string{"probe", "http://example.org/"}, "not a URL"},
		{[]string{"probe", "::1:80"}, "brackets"},
		{[]string{"probe", "[::1:80"}, "unbalanced brackets"},
		{[]string{"probe", "[127.0.0.1]:80"}, "not an IPv6 address"},
		{[]string{"probe"}, "accepts 1 arg"},
		{[]string{"probe", "80", "81"}, "accepts 1 arg"},
		{[]string{"probe", "--timeout", "0s", "80"}, "--timeout 0s"},
		{[]string{"probe", "--timeout", "soon", "80"}, "invalid argument"},
	})
}

func TestParseProbeArg(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port uint16
	}{
		{"8080", "", 8080},
		{":8080", "", 8080},
		{"localhost:5432", "localhost", 5432},
		{"192.0.2.1:443", "192.0.2.1", 443},
		{"[::1]:22", "::1", 22},
		{"[fe80::1%eth0]:22", "fe80::1%eth0", 22},
		{"mail.example.org.:25", "mail.example.org.", 25},
		{"_srv.example:1", "_srv.example", 1},
		{"65535", "", 65535},
	}
	for _, tt := range tests {
		host, port, err := parseProbeArg(tt.in)
		if err != nil || host != tt.host || port != tt.port {
			t.Errorf("parseProbeArg(%q) = %q, %d, %v; want %q, %d", tt.in, host, port, err, tt.host, tt.port)
		}
	}
}

// TestProbeNothingListens: a closed port is one line and exit 1.
func TestProbeNothingListens(t *testing.T) {
	port := strconv.Itoa(testutil.FreePort(t))
	code, out, errs := run(t, "probe", port)
	if code != ExitNoMatch || out != "" {
		t.Errorf("probe %s: exit %d, stdout %q; want %d, nothing", port, code, out, ExitNoMatch)
	}
	if want := "whobinds: nothing answers on 127.0.0.1:" + port + "\n"; errs != want {
		t.Errorf("probe %s: stderr = %q; want %q", port, errs, want)
	}
}

// TestProbePrinterPort: 9100-9107 are refused without --force, and
// nothing is sent: a listener on 9100 sees no connection.
func TestProbePrinterPort(t *testing.T) {
	var accepted chan struct{}
	if ln, err := net.Listen("tcp4", "127.0.0.1:9100"); err == nil {
		t.Cleanup(func() { ln.Close() })
		accepted = make(chan struct{}, 1)
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Close()
				accepted <- struct{}{}
			}
		}()
	}
	for _, arg := range []string{"9100", "127.0.0.1:9107", "printer.example:9103"} {
		code, out, errs := run(t, "probe", arg)
		if code != ExitRefused || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "raw printing port") || !strings.Contains(errs, "--force") {
			t.Errorf("probe %s: exit %d, stdout %q, stderr %q; want %d and one line naming --force", arg, code, out, errs, ExitRefused)
		}
	}
	if accepted != nil {
		select {
		case <-accepted:
			t.Error("probe 9100 connected to the printer port")
		default:
		}
		// With --force it does connect.
		if code, _, errs := run(t, "probe", "--force", "--timeout", "1s", "9100"); code != ExitOK {
			t.Errorf("probe --force 9100: exit %d, stderr %q; want 0", code, errs)
		}
	}
}

// smtpListener is a tiny SMTP-like server on 127.0.0.1 held by this test
// process.
func smtpListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := wine.Touch(ln.(*net.TCPListener)); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "220 mail.example ESMTP whobinds-test\r\n")
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "EHLO") {
						io.WriteString(c, "250-mail.example\r\n250-STARTTLS\r\n250 SIZE 1000\r\n")
					} else {
						io.WriteString(c, "221 bye\r\n")
						return
					}
				}
			}()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestProbeLocalBanner: a local port is joined with its holder, this
// test process.
func TestProbeLocalBanner(t *testing.T) {
	port := smtpListener(t)
	pid := strconv.Itoa(os.Getpid())
	code, out, errs := run(t, "probe", port)
	if code != ExitOK {
		t.Fatalf("probe %s: exit %d, stderr %q", port, code, errs)
	}
	for _, want := range []string{
		"127.0.0.1:" + port + "  smtp\n",
		"  banner    220 mail.example ESMTP whobinds-test\n",
		"  smtp      extensions STARTTLS, SIZE\n",
		", pid " + pid + ", user ",
		", on 127.0.0.1:" + port + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("probe %s lacks %q:\n%s", port, want, out)
		}
	}

	code, out, errs = run(t, "probe", "--json", "127.0.0.1:"+port)
	var doc struct {
		Schema  string `json:"schema"`
		Target  string `json:"target"`
		Local   bool   `json:"local"`
		Address string `json:"address"`
		Service string `json:"service"`
		Banner  string `json:"banner"`
		TLS     *struct {
		} `json:"tls"`
		Attempts []probe.Attempt `json:"attempts"`
		Owner    *probeOwner     `json:"owner"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitOK {
		t.Fatalf("probe --json: exit %d, %v, stderr %q:\n%s", code, err, errs, out)
	}
	want := []string{"whobinds/v1", "127.0.0.1:" + port, "127.0.0.1:" + port, probe.ServiceSMTP, "220 mail.example ESMTP whobinds-test"}
	got := []string{doc.Schema, doc.Target, doc.Address, doc.Service, doc.Banner}
	if diff := cmp.Diff(want, got); diff != "" || !doc.Local || doc.TLS != nil || len(doc.Attempts) == 0 {
		t.Errorf("probe --json (-want +got):\n%s\nlocal %v, tls %v, attempts %v", diff, doc.Local, doc.TLS, doc.Attempts)
	}
	if doc.Owner == nil || doc.Owner.PID != os.Getpid() || doc.Owner.Socket != "127.0.0.1:"+port || doc.Owner.Holders != 1 {
		t.Errorf("probe --json owner = %+v; want pid %d on 127.0.0.1:%s", doc.Owner, os.Getpid(), port)
	}
}

// TestProbeUnreachable: a name that does not resolve is exit 4 in one
// line.
func TestProbeUnreachable(t *testing.T) {
	code, out, errs := run(t, "probe", "--timeout", "2s", "host.invalid:80")
	if code != ExitOSFailure || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "unreachable") {
		t.Errorf("probe host.invalid:80: exit %d, stdout %q, stderr %q; want %d, one line", code, out, errs, ExitOSFailure)
	}
}

func TestLocalAddr(t *testing.T) {
	listener := func(proto model.Proto, addr string, v6only model.Tristate) model.Socket {
		s := model.Socket{Proto: proto, Local: netip.MustParseAddrPort(addr), State: model.Listen, V6Only: v6only}
		if proto == model.UDP {
			s.State = model.Close
		}
		return s
	}
	tests := []struct {
		name  string
		socks []model.Socket
		want  string
	}{
		{"none", nil, "127.0.0.1"},
		{"IPv4 wildcard", []model.Socket{listener(model.TCP, "0.0.0.0:80", model.Unknown)}, "127.0.0.1"},
		{"dual-stack wildcard", []model.Socket{listener(model.TCP, "[::]:80", model.No)}, "127.0.0.1"},
		{"IPv6-only wildcard", []model.Socket{listener(model.TCP, "[::]:80", model.Yes)}, "::1"},
		{"IPv6 loopback", []model.Socket{listener(model.TCP, "[::1]:80", model.Yes)}, "::1"},
		{"one address", []model.Socket{listener(model.TCP, "192.0.2.7:80", model.Unknown)}, "192.0.2.7"},
		{"another loopback address", []model.Socket{listener(model.TCP, "127.0.0.2:80", model.Unknown)}, "127.0.0.2"},
		{"loopback preferred", []model.Socket{listener(model.TCP, "192.0.2.7:80", model.Unknown), listener(model.TCP, "127.0.0.1:80", model.Unknown)}, "127.0.0.1"},
		{"IPv4 before IPv6", []model.Socket{listener(model.TCP, "[2001:db8::1]:80", model.Yes), listener(model.TCP, "192.0.2.7:80", model.Unknown)}, "192.0.2.7"},
		{"link-local skipped", []model.Socket{listener(model.TCP, "[fe80::1]:80", model.Yes)}, "127.0.0.1"},
		{"UDP ignored", []model.Socket{listener(model.UDP, "192.0.2.7:80", model.Unknown)}, "127.0.0.1"},
		{"other port ignored", []model.Socket{listener(model.TCP, "192.0.2.7:81", model.Unknown)}, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := localAddr(&model.Snapshot{Sockets: tt.socks}, 80); got != tt.want {
				t.Errorf("localAddr(%v) = %q; want %q", tt.socks, got, tt.want)
			}
		})
	}

	udp := &model.Snapshot{Sockets: []model.Socket{listener(model.UDP, "0.0.0.0:80", model.Unknown)}}
	if got := elsewhere(udp, 80, "127.0.0.1"); !strings.Contains(got, "only UDP 0.0.0.0:80") {
		t.Errorf("elsewhere(UDP only) = %q; want it to say only UDP is bound", got)
	}
	other := &model.Snapshot{Sockets: []model.Socket{listener(model.TCP, "192.0.2.7:80", model.Unknown)}}
	if got := elsewhere(other, 80, "127.0.0.1"); !strings.Contains(got, "listens on 192.0.2.7 only: try 192.0.2.7:80") {
		t.Errorf("elsewhere(other address) = %q; want it to name 192.0.2.7", got)
	}
	if got := elsewhere(nil, 80, "127.0.0.1"); got != "" {
		t.Errorf("elsewhere(nil) = %q; want nothing", got)
	}
}
