package containers

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/whobinds/whobinds/internal/model"
)

const (
	webID     = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a"
	webOldID  = "a1b2c3d4e5f6ffff293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a"
	dbID      = "5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	hostnetID = "f00dfeed00000000000000000000000000000000000000000000000000000001"
	aliceID   = "beefbeef00000000000000000000000000000000000000000000000000000002"
	webpodID  = "9a1c2b3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
)

var cmpAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

func dockerEvidence(root, dataRoot, id string) string {
	return filepath.Join(root, dataRoot, "containers", id, "config.v2.json")
}

func TestByIDDocker(t *testing.T) {
	root := filepath.Join("testdata", "host")
	tests := []struct {
		name string
		id   string
		want Info
	}{
		{
			name: "full ID, bridge network, published on both families",
			id:   webID,
			want: Info{
				Runtime: "docker", ID: webID, Name: "web", Image: "nginx:1.25",
				IPs: []netip.Addr{netip.MustParseAddr("172.17.0.2"), netip.MustParseAddr("2001:db8:1::2")},
				Ports: []PortBinding{
					{Proto: model.TCP, ContainerPort: 80, HostAddr: netip.MustParseAddr("0.0.0.0"), HostPort: 8080},
					{Proto: model.TCP, ContainerPort: 80, HostAddr: netip.MustParseAddr("::"), HostPort: 8080},
				},
				RestartPolicy: "unless-stopped", NetworkMode: "default",
				Running: true, PID: 4242,
				Evidence: dockerEvidence(root, "/var/lib/docker", webID),
			},
		},
		{
			name: "12-digit prefix, compose network, udp",
			id:   dbID[:12],
			want: Info{
				Runtime: "docker", ID: dbID, Name: "shop-db-1", Image: "postgres:16",
				IPs: []netip.Addr{netip.MustParseAddr("172.18.0.3")},
				Ports: []PortBinding{
					{Proto: model.UDP, ContainerPort: 53, HostAddr: netip.MustParseAddr("0.0.0.0"), HostPort: 5353},
					{Proto: model.TCP, ContainerPort: 5432, HostAddr: netip.MustParseAddr("127.0.0.1"), HostPort: 15432},
				},
				RestartPolicy: "always", NetworkMode: "shop_default",
				Running: true, PID: 5151,
				Evidence: dockerEvidence(root, "/var/lib/docker", dbID),
			},
		},
		{
			name: "host network: no addresses",
			id:   hostnetID,
			want: Info{
				Runtime: "docker", ID: hostnetID, Name: "node-exporter", Image: "quay.io/prometheus/node-exporter:v1.8.2",
				RestartPolicy: "on-failure", NetworkMode: "host",
				Running: true, PID: 6161,
				Evidence: dockerEvidence(root, "/var/lib/docker", hostnetID),
			},
		},
		{
			name: "stopped container",
			id:   webOldID,
			want: Info{
				Runtime: "docker", ID: webOldID, Name: "web-old", Image: "nginx:1.24",
				IPs:           []netip.Addr{netip.MustParseAddr("172.17.0.2")},
				RestartPolicy: "no", NetworkMode: "default",
				Evidence: dockerEvidence(root, "/var/lib/docker", webOldID),
			},
		},
		{
			name: "rootless docker under a home directory",
			id:   aliceID[:16],
			want: Info{
				Runtime: "docker", ID: aliceID, Name: "alice-redis", Image: "redis:7",
				IPs:           []netip.Addr{netip.MustParseAddr("172.17.0.2")},
				Ports:         []PortBinding{{Proto: model.TCP, ContainerPort: 6379, HostAddr: netip.MustParseAddr("127.0.0.1"), HostPort: 16379}},
				RestartPolicy: "no", NetworkMode: "default",
				Running: true, PID: 7171,
				Evidence: dockerEvidence(root, "/home/alice/.local/share/docker", aliceID),
			},
		},
	}
	s := &Store{Root: root}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := s.ByID("docker", tt.id)
			if err != nil || !ok {
				t.Fatalf("ByID(docker, %s) = _, %v, %v; want found", tt.id, ok, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddrs); diff != "" {
				t.Errorf("ByID(docker, %s) mismatch (-want +got):\n%s", tt.id, diff)
			}
		})
	}
}

func TestByIDDockerDataRoot(t *testing.T) {
	root := filepath.Join("testdata", "dataroot")
	s := &Store{Root: root}
	got, ok, err := s.ByID("docker", webID)
	if err != nil || !ok {
		t.Fatalf("ByID(docker, %s) = _, %v, %v; want found under daemon.json's data-root", webID, ok, err)
	}
	if got.Name != "moved-web" || got.Evidence != dockerEvidence(root, "/srv/docker", webID) {
		t.Errorf("ByID(docker, %s) = %q from %s; want moved-web from /srv/docker", webID, got.Name, got.Evidence)
	}
}

func TestByIDStorage(t *testing.T) {
	root := filepath.Join("testdata", "host")
	evidence := filepath.Join(root, "/var/lib/containers/storage/overlay-containers/containers.json")
	tests := []struct {
		name    string
		runtime string
		id      string
		want    Info
	}{
		{
			name: "podman, image name from metadata", runtime: "podman", id: webpodID,
			want: Info{Runtime: "podman", ID: webpodID, Name: "webpod", Image: "docker.io/library/nginx:1.25", Evidence: evidence},
		},
		{
			name: "no image-name in metadata: from images.json", runtime: "podman", id: "9a1c2b3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e800",
			want: Info{Runtime: "podman", ID: "9a1c2b3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e800", Name: "caddy-old", Image: "docker.io/library/caddy:2", Evidence: evidence},
		},
		{
			name: "buildah container without podman metadata", runtime: "podman", id: "bd0000000000000000000000",
			want: Info{Runtime: "podman", ID: "bd0000000000000000000000000000000000000000000000000000000000beef", Name: "nginx-working-container", Image: "docker.io/library/nginx:1.25", Evidence: evidence},
		},
		{
			name: "cri-o in the same store", runtime: "cri-o", id: "7e6f5d4c3b2a",
			want: Info{Runtime: "cri-o", ID: "7e6f5d4c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a1908", Name: "k8s_POD_coredns-5d78c9869d-x7k2p_kube-system_8f1c1a46-7e3c-4b8e-9b51-b33b04a2c3c1_0", Image: "registry.k8s.io/pause:3.9", Evidence: evidence},
		},
		{
			name: "volatile container (podman run --rm)", runtime: "podman", id: "0e0e0e0e0000",
			want: Info{Runtime: "podman", ID: "0e0e0e0e00000000000000000000000000000000000000000000000000000004", Name: "tmp-httpd", Image: "docker.io/library/caddy:2", Evidence: filepath.Join(root, "/var/lib/containers/storage/overlay-containers/volatile-containers.json")},
		},
		{
			name: "rootless podman, vfs driver", runtime: "podman", id: "abcabc000000",
			want: Info{Runtime: "podman", ID: "abcabc0000000000000000000000000000000000000000000000000000000005", Name: "alice-web", Image: "localhost/whobinds-test:1", Evidence: filepath.Join(root, "/home/alice/.local/share/containers/storage/vfs-containers/containers.json")},
		},
	}
	s := &Store{Root: root}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := s.ByID(tt.runtime, tt.id)
			if err != nil || !ok {
				t.Fatalf("ByID(%s, %s) = _, %v, %v; want found", tt.runtime, tt.id, ok, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddrs); diff != "" {
				t.Errorf("ByID(%s, %s) mismatch (-want +got):\n%s", tt.runtime, tt.id, diff)
			}
		})
	}
}

func TestByIDNotFoundAndErrors(t *testing.T) {
	host := &Store{Root: filepath.Join("testdata", "host")}
	empty := &Store{Root: t.TempDir()}
	broken := &Store{Root: filepath.Join("testdata", "broken")}
	tests := []struct {
		name    string
		s       *Store
		runtime string
		id      string
		errText string // "" for not found without an error
		unsupp  bool
	}{
		{name: "unknown docker ID", s: host, runtime: "docker", id: strings.Repeat("0", 64)},
		{name: "unknown docker prefix", s: host, runtime: "docker", id: "000000000000"},
		{name: "no docker on this host", s: empty, runtime: "docker", id: webID},
		{name: "no podman on this host", s: empty, runtime: "podman", id: webpodID},
		{name: "docker container in podman's store", s: host, runtime: "podman", id: webID},
		{name: "ambiguous docker prefix", s: host, runtime: "docker", id: webID[:12], errText: "ambiguous"},
		{name: "ambiguous podman prefix", s: host, runtime: "podman", id: webpodID[:12], errText: "ambiguous"},
		{name: "short prefix", s: host, runtime: "docker", id: webID[:11], errText: "12 to 64"},
		{name: "not hex", s: host, runtime: "docker", id: "web-container-1", errText: "hex"},
		{name: "upper case", s: host, runtime: "docker", id: strings.ToUpper(webID), errText: "hex"},
		{name: "containerd metadata is not read", s: host, runtime: "containerd", id: webID, unsupp: true},
		{name: "corrupt config.v2.json", s: broken, runtime: "docker", id: "dead000000000000000000000000000000000000000000000000000000000006", errText: "parsing docker metadata"},
		{name: "corrupt containers.json", s: broken, runtime: "podman", id: webpodID, errText: "parsing container storage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := tt.s.ByID(tt.runtime, tt.id)
			if ok {
				t.Fatalf("ByID(%s, %s) = %+v, true; want not found", tt.runtime, tt.id, got)
			}
			switch {
			case tt.unsupp:
				if !errors.Is(err, ErrUnsupportedRuntime) {
					t.Errorf("ByID(%s, %s) error = %v; want ErrUnsupportedRuntime", tt.runtime, tt.id, err)
				}
			case tt.errText == "":
				if err != nil {
					t.Errorf("ByID(%s, %s) error = %v; want nil", tt.runtime, tt.id, err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("ByID(%s, %s) error = %v; want one mentioning %q", tt.runtime, tt.id, err, tt.errText)
				}
			}
		})
	}
}

func TestByIP(t *testing.T) {
	// alice's rootless docker has a running container on 172.17.0.2 too,
	// in its own namespace: the system data root comes first.
	s := &Store{Root: filepath.Join("testdata", "host")}
	tests := []struct {
		ip     string
		wantID string // "" for not found
	}{
		// web and the stopped web-old both had 172.17.0.2: the running one.
		{"172.17.0.2", webID},
		{"::ffff:172.17.0.2", webID},
		{"2001:db8:1::2", webID},
		{"172.18.0.3", dbID},
		{"172.17.0.99", ""},
		{"127.0.0.1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			got, ok := s.ByIP(netip.MustParseAddr(tt.ip))
			if ok != (tt.wantID != "") || got.ID != tt.wantID {
				t.Errorf("ByIP(%s) = %s, %v; want %q", tt.ip, got.ID, ok, tt.wantID)
			}
		})
	}
	// ByIP read everything; ByID now answers a prefix from the cache too.
	got, ok, err := s.ByID("docker", dbID[:12])
	if !ok || err != nil || got.ID != dbID {
		t.Errorf("ByID(docker, %s) after ByIP = %s, %v, %v; want %s", dbID[:12], got.ID, ok, err, dbID)
	}
}

func TestStoreCaches(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join("testdata", "host", "var", "lib", "docker", "containers", webID)
	dst := filepath.Join(root, "var", "lib", "docker", "containers", webID)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.v2.json", "hostconfig.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := &Store{Root: root}
	first, ok, err := s.ByID("docker", webID)
	if !ok || err != nil {
		t.Fatalf("ByID(docker, %s) = _, %v, %v; want found", webID, ok, err)
	}
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	second, ok, err := s.ByID("docker", webID)
	if !ok || err != nil {
		t.Fatalf("ByID(docker, %s) after removing its files = _, %v, %v; want the cached answer", webID, ok, err)
	}
	if diff := cmp.Diff(first, second, cmpAddrs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("cached ByID mismatch (-want +got):\n%s", diff)
	}
}

func FuzzParseDockerConfig(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "host", "var", "lib", "docker", "containers", dbID, "config.v2.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"NetworkSettings":{"Ports":{"80":null,"x/tcp":[{}],"99999/udp":[{"HostPort":"-1"}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := parseDockerConfig(b)
		if err != nil {
			return
		}
		for _, p := range in.Ports {
			if p.ContainerPort == 0 || p.Proto == 0 {
				t.Errorf("parseDockerConfig(%q) gave port %+v", b, p)
			}
		}
		for _, a := range in.IPs {
			if !a.IsValid() {
				t.Errorf("parseDockerConfig(%q) gave an invalid IP", b)
			}
		}
	})
}

func FuzzParseStorageContainers(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "host", "var", "lib", "containers", "storage", "overlay-containers", "containers.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`[{"id":"` + webpodID + `","metadata":"{\"name\":1}"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := parseStorageContainers(b)
		if err != nil {
			return
		}
		for _, c := range cs {
			if len(c.info.ID) != 64 || !isHex(c.info.ID) {
				t.Errorf("parseStorageContainers(%q) gave ID %q", b, c.info.ID)
			}
		}
	})
}
