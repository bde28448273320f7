package target

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/model"
)

func TestParse(t *testing.T) {
	v4 := netip.MustParseAddr("127.0.0.1")
	v6 := netip.MustParseAddr("::1")
	tests := []struct {
		in   string
		want Target
	}{
		{"80", Target{Lo: 80, Hi: 80}},
		{":80", Target{Lo: 80, Hi: 80}},
		{"*:80", Target{Lo: 80, Hi: 80}},
		{"tcp/80", Target{Proto: model.TCP, Lo: 80, Hi: 80}},
		{"UDP/53", Target{Proto: model.UDP, Lo: 53, Hi: 53}},
		{"8000-8100", Target{Lo: 8000, Hi: 8100}},
		{"1-65535", Target{Lo: 1, Hi: 65535}},
		{"127.0.0.1:8080", Target{Addr: v4, Lo: 8080, Hi: 8080}},
		{"[::1]:80", Target{Addr: v6, Lo: 80, Hi: 80}},
		{"udp/[::1]:53", Target{Proto: model.UDP, Addr: v6, Lo: 53, Hi: 53}},
		{"tcp/127.0.0.1:8000-8002", Target{Proto: model.TCP, Addr: v4, Lo: 8000, Hi: 8002}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q) error: %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v; want %+v", tt.in, got, tt.want)
		}
		if back, err := Parse(got.String()); err != nil || back != got {
			t.Errorf("Parse(%q.String() = %q) = %+v, %v; want %+v", tt.in, got.String(), back, err, got)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, wantSub string }{
		{"", "empty target"},
		{"0", "port 0"},
		{"70000", "out of range"},
		{"99999999999999999999", "out of range"},
		{"http", `"http" is not a port`},
		{"80-70", "runs backwards: write 70-80"},
		{"sctp/80", "unknown protocol"},
		{"300.1.1.1:80", "not an IP address"},
		{"::1:80", "put an IPv6 address in brackets"},
		{"[::1:80", "unbalanced brackets"},
		{"127.0.0.1:", "missing port"},
		{"-80", "missing port"},
		{"80-", "missing port"},
		{"+80", "not a port number"},
		{"[fe80::1%eth0]:80", "zones are not supported"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = nil error; want one containing %q", tt.in, tt.wantSub)
			continue
		}
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.wantSub) {
			t.Errorf("Parse(%q) error = %q; want ErrSyntax containing %q", tt.in, err, tt.wantSub)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) error spans lines: %q", tt.in, err)
		}
	}
}

func TestMatch(t *testing.T) {
	sock := func(proto model.Proto, local string, v6only model.Tristate) *model.Socket {
		return &model.Socket{Proto: proto, Local: netip.MustParseAddrPort(local), V6Only: v6only}
	}
	tests := []struct {
		target string
		sock   *model.Socket
		want   bool
	}{
		{"80", sock(model.TCP, "0.0.0.0:80", model.Unknown), true},
		{"80", sock(model.TCP, "0.0.0.0:8080", model.Unknown), false},
		{"8080", sock(model.TCP, "0.0.0.0:80", model.Unknown), false},
		{"udp/80", sock(model.TCP, "0.0.0.0:80", model.Unknown), false},
		{"79-81", sock(model.UDP, "[::]:80", model.No), true},
		{"127.0.0.1:80", sock(model.TCP, "0.0.0.0:80", model.Unknown), true},
		{"127.0.0.1:80", sock(model.TCP, "127.0.0.2:80", model.Unknown), false},
		{"127.0.0.1:80", sock(model.TCP, "[::]:80", model.No), true},
		{"127.0.0.1:80", sock(model.TCP, "[::]:80", model.Yes), false},
		{"127.0.0.1:80", sock(model.TCP, "[::ffff:127.0.0.1]:80", model.No), true},
		{"[::1]:80", sock(model.TCP, "0.0.0.0:80", model.Unknown), false},
		{"[::1]:80", sock(model.TCP, "[::]:80", model.Yes), true},
		{"[::1]:80", sock(model.TCP, "[::1]:80", model.Yes), true},
	}
	for _, tt := range tests {
		tg, err := Parse(tt.target)
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.Match(tt.sock); got != tt.want {
			t.Errorf("Parse(%q).Match(%s %v v6only=%v) = %v; want %v", tt.target, tt.sock.Proto, tt.sock.Local, tt.sock.V6Only, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"80", "tcp/[::1]:80", "1-2", "udp/127.0.0.1:53", ":0", "[::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := Parse(s)
		if err != nil {
			return
		}
		if tg.Lo == 0 || tg.Hi < tg.Lo {
			t.Fatalf("Parse(%q) = %+v: invalid range accepted", s, tg)
		}
		back, err := Parse(tg.String())
		if err != nil || back != tg {
			t.Fatalf("Parse(%q) = %+v; round trip via %q = %+v, %v", s, tg, tg.String(), back, err)
		}
	})
}
