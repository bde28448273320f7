package kernelsock

import (
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/testutil"
)

// netns creates a named network namespace for the test and returns an open
// file for it.
func netns(t *testing.T) (string, *os.File) {
	t.Helper()
	testutil.NeedRoot(t)
	ip := testutil.NeedCommand(t, "ip")
	name := "wbks" + itoa(os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		testutil.Missing(t, "ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "del", name).Run() })
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return name, f
}

func ipIn(t *testing.T, ns string, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %v: %v: %s", ns, args, err, out)
	}
}

func TestCollectFindsVXLANDevice(t *testing.T) {
	testutil.NeedKernel(t, "CONFIG_VXLAN")
	ns, f := netns(t)
	ipIn(t, ns, "link", "set", "lo", "up")
	ipIn(t, ns, "link", "add", "vxt0", "type", "vxlan", "id", "42", "dstport", "4799", "local", "127.0.0.1")
	ipIn(t, ns, "link", "set", "vxt0", "up")
	owners, err := Collect(int(f.Fd()), "/proc", model.UDP)
	if err != nil {
		t.Fatal(err)
	}
	var got []Owner
	for _, o := range owners {
		if o.Kind == "vxlan" {
			got = append(got, o)
		}
	}
	if len(got) != 1 || got[0].Name != "vxt0" || got[0].Port != 4799 || got[0].Proto != model.UDP {
		t.Errorf("Collect in netns %s = %+v; want vxlan vxt0 on udp/4799", ns, owners)
	}
	// TCP sockets are never a device's.
	if tcp, _ := Collect(int(f.Fd()), "/proc", model.TCP); len(tcp) != 0 {
		t.Errorf("Collect(tcp) = %+v; want no device owners", tcp)
	}
	// Our own namespace does not have it.
	own, _ := Collect(-1, "/proc", model.UDP)
	for _, o := range own {
		if o.Name == "vxt0" {
			t.Errorf("Collect(-1) found %+v from another namespace", o)
		}
	}
}

func TestCollectFindsGeneveDevice(t *testing.T) {
	testutil.NeedKernel(t, "CONFIG_GENEVE")
	ns, f := netns(t)
	ipIn(t, ns, "link", "add", "gnv0", "type", "geneve", "id", "5", "remote", "127.0.0.2", "dstport", "6099")
	ipIn(t, ns, "link", "set", "gnv0", "up")
	owners, err := Collect(int(f.Fd()), "/proc", model.UDP)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Match(owners, &model.Socket{Proto: model.UDP, Local: mustAP("0.0.0.0:6099")}); !ok {
		t.Errorf("Collect = %+v; want geneve gnv0 on udp/6099", owners)
	}
}

func TestCollectFindsWireGuardDevice(t *testing.T) {
	testutil.NeedKernel(t, "CONFIG_WIREGUARD")
	ns, f := netns(t)
	wg := testutil.NeedCommand(t, "wg")
	ipIn(t, ns, "link", "add", "wg0", "type", "wireguard")
	key, err := exec.Command(wg, "genkey").Output()
	if err != nil {
		t.Fatal(err)
	}
	kf := t.TempDir() + "/key"
	os.WriteFile(kf, key, 0o600)
	if out, err := exec.Command("ip", "netns", "exec", ns, wg, "set", "wg0", "listen-port", "51999", "private-key", kf).CombinedOutput(); err != nil {
		t.Fatalf("wg set: %v: %s", err, out)
	}
	ipIn(t, ns, "link", "set", "wg0", "up")
	owners, err := Collect(int(f.Fd()), "/proc", model.UDP)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := Match(owners, &model.Socket{Proto: model.UDP, Local: mustAP("0.0.0.0:51999")}); !ok || o.Kind != "wireguard" {
		t.Errorf("Collect = %+v; want wireguard wg0 on udp/51999", owners)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
