package containers

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/model"
)

// ap builds a Target with an optional address.
func ap(addr string, port uint16) netip.AddrPort {
	var a netip.Addr
	if addr != "" {
		a = netip.MustParseAddr(addr)
	}
	return netip.AddrPortFrom(a, port)
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// pastaAuto is the forward pasta sets up for a direction with no option.
func pastaAuto(proto model.Proto, fromNS bool) Forward {
	return Forward{Kind: "pasta", Proto: proto, HostPort: 1, HostPortEnd: 65535, Target: ap("", 1), Auto: true, FromNS: fromNS}
}

// noReverse is what podman passes so pasta does not forward from the
// namespace to the host.
var noReverse = []string{"-T", "none", "-U", "none"}

func TestParseForwarder(t *testing.T) {
	tests := []struct {
		name string
		comm string
		argv []string
		want []Forward
		ok   bool
	}{
		{
			name: "docker-proxy as docker 20.10 starts it",
			comm: "docker-proxy",
			argv: strings.Fields("/usr/sbin/docker-proxy -proto tcp -host-ip 127.0.0.1 -host-port 18081 -container-ip 172.17.0.2 -container-port 80"),
			want: []Forward{{Kind: "docker-proxy", Proto: model.TCP, HostAddr: addr("127.0.0.1"), HostPort: 18081, HostPortEnd: 18081, Target: ap("172.17.0.2", 80)}},
			ok:   true,
		},
		{
			name: "docker-proxy IPv6 listener to IPv4 container, newer flags",
			comm: "docker-proxy",
			argv: strings.Fields("/usr/bin/docker-proxy -proto udp -host-ip :: -host-port 5353 -container-ip 172.18.0.3 -container-port 53 -use-listen-fd"),
			want: []Forward{{Kind: "docker-proxy", Proto: model.UDP, HostAddr: addr("::"), HostPort: 5353, HostPortEnd: 5353, Target: ap("172.18.0.3", 53)}},
			ok:   true,
		},
		{
			name: "docker-proxy with --flag=value",
			comm: "docker-proxy",
			argv: strings.Fields("docker-proxy --proto=tcp --host-ip=0.0.0.0 --host-port=8080 --container-ip=172.17.0.2 --container-port=80"),
			want: []Forward{{Kind: "docker-proxy", Proto: model.TCP, HostAddr: addr("0.0.0.0"), HostPort: 8080, HostPortEnd: 8080, Target: ap("172.17.0.2", 80)}},
			ok:   true,
		},
		{
			name: "docker-proxy sctp",
			comm: "docker-proxy",
			argv: strings.Fields("docker-proxy -proto sctp -host-ip 0.0.0.0 -host-port 3868 -container-ip 172.17.0.4 -container-port 3868"),
			want: []Forward{{Kind: "docker-proxy", Proto: 132, HostAddr: addr("0.0.0.0"), HostPort: 3868, HostPortEnd: 3868, Target: ap("172.17.0.4", 3868)}},
			ok:   true,
		},
		{
			name: "docker-proxy with garbage values",
			comm: "docker-proxy",
			argv: strings.Fields("docker-proxy -proto quic -host-ip nowhere -host-port 99999 -container-ip x -container-port"),
			want: []Forward{{Kind: "docker-proxy"}},
			ok:   true,
		},
		{
			name: "rootlessport",
			comm: "rootlessport",
			argv: []string{"rootlessport"},
			want: []Forward{{Kind: "rootlessport"}},
			ok:   true,
		},
		{
			name: "slirp4netns as rootless podman starts it",
			comm: "slirp4netns",
			argv: strings.Fields("/usr/bin/slirp4netns --disable-host-loopback --mtu=65520 --enable-sandbox --enable-seccomp --enable-ipv6 -c -r 3 -e 4 --netns-type=path /run/user/1000/netns/netns-3f2a1b0c-5d4e-6f70-8192-a3b4c5d6e7f8 tap0"),
			want: []Forward{{Kind: "slirp4netns", NetNSPath: "/run/user/1000/netns/netns-3f2a1b0c-5d4e-6f70-8192-a3b4c5d6e7f8"}},
			ok:   true,
		},
		{
			name: "slirp4netns by PID, options after the operands",
			comm: "slirp4netns",
			argv: strings.Fields("slirp4netns 4242 tap0 --configure --api-socket /tmp/slirp.sock -m1500"),
			want: []Forward{{Kind: "slirp4netns", TargetPID: 4242}},
			ok:   true,
		},
		{
			name: "slirp4netns to a bess socket",
			comm: "slirp4netns",
			argv: strings.Fields("slirp4netns --target-type=bess /run/bess.sock"),
			want: []Forward{{Kind: "slirp4netns"}},
			ok:   true,
		},
		{
			name: "pasta as podman 5 starts it",
			comm: "pasta.avx2",
			argv: strings.Fields("/usr/bin/pasta --config-net -t 8080-8080:80-80 --dns-forward 169.254.1.1 -u none -T none -U none --no-map-gw --quiet --netns /run/user/1000/netns/netns-8f0e2a1b --map-guest-addr 169.254.1.2"),
			want: []Forward{{Kind: "pasta", Proto: model.TCP, HostPort: 8080, HostPortEnd: 8080, Target: ap("", 80), NetNSPath: "/run/user/1000/netns/netns-8f0e2a1b"}},
			ok:   true,
		},
		{
			name: "pasta with a command: argv[0] names it, comm is passt's",
			comm: "passt.avx2",
			argv: strings.Fields("pasta --config-net -f -t 18080:80 -u 5353 -- sleep 60"),
			want: []Forward{
				{Kind: "pasta", Proto: model.TCP, HostPort: 18080, HostPortEnd: 18080, Target: ap("", 80)},
				{Kind: "pasta", Proto: model.UDP, HostPort: 5353, HostPortEnd: 5353, Target: ap("", 5353)},
				pastaAuto(model.TCP, true),
				pastaAuto(model.UDP, true),
			},
			ok: true,
		},
		{
			name: "pasta attached short options, address, ranges, exclusions, PID",
			comm: "pasta",
			argv: append(append([]string{"pasta", "-t127.0.0.1/8000-8010:9000-9010,~8005", "--udp-ports=none"}, noReverse...), "4242"),
			want: []Forward{
				{Kind: "pasta", Proto: model.TCP, HostAddr: addr("127.0.0.1"), HostPort: 8000, HostPortEnd: 8004, Target: ap("", 9000), TargetPID: 4242},
				{Kind: "pasta", Proto: model.TCP, HostAddr: addr("127.0.0.1"), HostPort: 8006, HostPortEnd: 8010, Target: ap("", 9006), TargetPID: 4242},
			},
			ok: true,
		},
		{
			name: "pasta comma list, interface, IPv6 address, netns by name",
			comm: "pasta",
			argv: append([]string{"pasta", "--tcp-ports", "22,25:2525", "-t", "2001:db8::1%eth0/443", "-u", "%eth1/53", "--netns", "blue"}, noReverse...),
			want: []Forward{
				{Kind: "pasta", Proto: model.TCP, HostPort: 22, HostPortEnd: 22, Target: ap("", 22), NetNSPath: "/run/netns/blue"},
				{Kind: "pasta", Proto: model.TCP, HostPort: 25, HostPortEnd: 25, Target: ap("", 2525), NetNSPath: "/run/netns/blue"},
				{Kind: "pasta", Proto: model.TCP, HostAddr: addr("2001:db8::1"), Interface: "eth0", HostPort: 443, HostPortEnd: 443, Target: ap("", 443), NetNSPath: "/run/netns/blue"},
				{Kind: "pasta", Proto: model.UDP, Interface: "eth1", HostPort: 53, HostPortEnd: 53, Target: ap("", 53), NetNSPath: "/run/netns/blue"},
			},
			ok: true,
		},
		{
			name: "pasta exclusions only: every other port",
			comm: "pasta",
			argv: append([]string{"pasta", "-t", "~22,~6000-6010", "-u", "none"}, noReverse...),
			want: []Forward{
				{Kind: "pasta", Proto: model.TCP, HostPort: 1, HostPortEnd: 21, Target: ap("", 1), Auto: true},
				{Kind: "pasta", Proto: model.TCP, HostPort: 23, HostPortEnd: 5999, Target: ap("", 23), Auto: true},
				{Kind: "pasta", Proto: model.TCP, HostPort: 6011, HostPortEnd: 65535, Target: ap("", 6011), Auto: true},
			},
			ok: true,
		},
		{
			name: "pasta defaults: auto in every direction",
			comm: "pasta",
			argv: []string{"pasta"},
			want: []Forward{pastaAuto(model.TCP, false), pastaAuto(model.UDP, false), pastaAuto(model.TCP, true), pastaAuto(model.UDP, true)},
			ok:   true,
		},
		{
			name: "pasta invalid specs forward nothing",
			comm: "pasta",
			argv: append([]string{"pasta", "-t", "80-22", "-t", "22-80:8022", "-t", "bogus/80", "-t", "0", "-u", "70000"}, noReverse...),
			want: []Forward{},
			ok:   true,
		},
		{
			name: "passt for a VM: no default forwards",
			comm: "passt.avx2",
			argv: strings.Fields("/usr/bin/passt --vhost-user --socket-path /run/user/1000/libvirt/qemu/run/passt/1-vm1-net0.socket -t 2222:22"),
			want: []Forward{{Kind: "passt", Proto: model.TCP, HostPort: 2222, HostPortEnd: 2222, Target: ap("", 22)}},
			ok:   true,
		},
		{name: "not a forwarder", comm: "nginx", argv: strings.Fields("nginx: master process /usr/sbin/nginx -g daemon on;")},
		{name: "conmon is not a forwarder", comm: "conmon", argv: strings.Fields("/usr/bin/conmon --api-version 1 -c abc")},
		{name: "rootlessport's child is not the forwarder", comm: "rootlessport-ch", argv: []string{"rootlessport-child"}},
		{name: "empty", comm: "", argv: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseForwarder(tt.comm, tt.argv)
			if ok != tt.ok {
				t.Fatalf("ParseForwarder(%q, %q) ok = %v; want %v", tt.comm, tt.argv, ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddrs); diff != "" {
				t.Errorf("ParseForwarder(%q, %q) mismatch (-want +got):\n%s", tt.comm, tt.argv, diff)
			}
		})
	}
}

func TestForwardMaps(t *testing.T) {
	rng := Forward{Kind: "pasta", Proto: model.TCP, HostPort: 8000, HostPortEnd: 8010, Target: ap("", 9000)}
	auto := pastaAuto(model.UDP, false)
	proxy := Forward{Kind: "docker-proxy", Proto: model.TCP, HostAddr: addr("0.0.0.0"), HostPort: 8080, HostPortEnd: 8080, Target: ap("172.17.0.2", 80)}
	slirp := Forward{Kind: "slirp4netns", TargetPID: 42}
	tests := []struct {
		name   string
		f      Forward
		proto  model.Proto
		port   uint16
		want   uint16
		wantOK bool
	}{
		{"range start", rng, model.TCP, 8000, 9000, true},
		{"range middle", rng, model.TCP, 8005, 9005, true},
		{"range end", rng, model.TCP, 8010, 9010, true},
		{"below range", rng, model.TCP, 7999, 0, false},
		{"above range", rng, model.TCP, 8011, 0, false},
		{"wrong protocol", rng, model.UDP, 8005, 0, false},
		{"auto keeps the port", auto, model.UDP, 5353, 5353, true},
		{"auto top port", auto, model.UDP, 65535, 65535, true},
		{"docker-proxy", proxy, model.TCP, 8080, 80, true},
		{"docker-proxy other port", proxy, model.TCP, 8081, 0, false},
		{"slirp4netns never", slirp, model.TCP, 8080, 0, false},
		{"zero forward", Forward{}, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.f.Maps(tt.proto, tt.port)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("%+v.Maps(%v, %d) = %d, %v; want %d, %v", tt.f, tt.proto, tt.port, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParseForwarder(f *testing.F) {
	f.Add("pasta", "pasta --config-net -t 127.0.0.1/8000-8010:9000-9010,~8005 -u none 4242")
	f.Add("docker-proxy", "docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port 80")
	f.Add("slirp4netns", "slirp4netns --netns-type=path /run/netns/x tap0")
	f.Add("pasta", "pasta -t ~1-65535 -u 65535:1")
	f.Fuzz(func(t *testing.T, comm, cmdline string) {
		fws, ok := ParseForwarder(comm, strings.Fields(cmdline))
		if !ok && len(fws) != 0 {
			t.Fatalf("ParseForwarder(%q, %q) = %v, false; want no forwards", comm, cmdline, fws)
		}
		for _, fw := range fws {
			if fw.HostPortEnd < fw.HostPort {
				t.Errorf("ParseForwarder(%q, %q): forward %+v has an inverted range", comm, cmdline, fw)
			}
			if fw.HostPort != 0 {
				if got, ok := fw.Maps(fw.Proto, fw.HostPortEnd); ok && fw.Target.Port() != 0 && got < fw.Target.Port() {
					t.Errorf("ParseForwarder(%q, %q): %+v maps its last port to %d, below its first target", comm, cmdline, fw, got)
				}
			}
		}
	})
}
