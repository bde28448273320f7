package cgroup

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	dockerID    = "3f4b8a2e9c1d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f"
	podmanID    = "9a1c2b3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	ctrdID      = "7e6f5d4c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a1908"
	testPodUID  = "8f1c1a46-7e3c-4b8e-9b51-b33b04a2c3c1"
	testPodUIDu = "8f1c1a46_7e3c_4b8e_9b51_b33b04a2c3c1"
)

func TestParseProcCgroup(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "hybrid: name=systemd wins over v2",
			in: `12:blkio:/system.slice/demo.service
11:memory:/system.slice/demo.service
10:pids:/system.slice/demo.service
1:name=systemd:/system.slice/demo.service
0::/system.slice/demo.service
`,
			want: "/system.slice/demo.service",
		},
		{
			name: "hybrid with v1 controllers elsewhere (this CI machine's shape)",
			in: `9:name=systemd:/
8:pids:/
4:memory:/process_api/ab05dfaae675dd690134b24fcd74bf12
1:cpu:/
0::/
`,
			want: "/",
		},
		{
			name: "unified",
			in:   "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n",
			want: "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
		},
		{
			name: "unified without trailing newline",
			in:   "0::/init.scope",
			want: "/init.scope",
		},
		{
			name: "v2 cgroup removed under a zombie",
			in:   "0::/system.slice/gone.service (deleted)\n",
			want: "/system.slice/gone.service",
		},
		{
			name: "legacy v1 with combined controllers",
			in: `11:cpu,cpuacct:/docker/` + dockerID + `
4:net_cls,net_prio:/docker/` + dockerID + `
1:name=systemd:/docker/` + dockerID + `
`,
			want: "/docker/" + dockerID,
		},
		{
			name: "v1 without systemd falls back to a controller",
			in: `3:memory:/lxc/web
2:cpu,cpuacct:/lxc/web
`,
			want: "/lxc/web",
		},
		{
			name: "outside our cgroup namespace",
			in:   "0::/../../system.slice/cron.service\n",
			want: "/../../system.slice/cron.service",
		},
		{
			name: "path with a colon",
			in:   "0::/system.slice/a:b.service\n",
			want: "/system.slice/a:b.service",
		},
		{
			name: "name=systemd among other named hierarchies",
			in:   "2:name=elogind:/1\n1:name=foo,name=systemd:/system.slice/x.service\n",
			want: "/system.slice/x.service",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcCgroup([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseProcCgroup(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseProcCgroup(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseProcCgroupErrors(t *testing.T) {
	tests := []struct {
		name, in string
		noHier   bool
	}{
		{name: "empty", in: "", noHier: true},
		{name: "blank lines", in: "\n\n", noHier: true},
		{name: "one field", in: "garbage\n"},
		{name: "two fields", in: "0:/x\n"},
		{name: "non-numeric id", in: "x::/\n"},
		{name: "negative id", in: "-1::/\n"},
		{name: "relative path", in: "0::system.slice\n"},
		{name: "empty path", in: "0::\n"},
		{name: "good line then bad", in: "0::/init.scope\nbad\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcCgroup([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseProcCgroup(%q) = %q, nil; want an error", tt.in, got)
			}
			if errors.Is(err, ErrNoHierarchy) != tt.noHier {
				t.Errorf("ParseProcCgroup(%q) error %v; want ErrNoHierarchy: %v", tt.in, err, tt.noHier)
			}
		})
	}
}

func TestUnitOf(t *testing.T) {
	tests := []struct {
		path string
		want Unit
		ok   bool
	}{
		{"/system.slice/nginx.service", Unit{"nginx.service", "system", "system.slice"}, true},
		{"system.slice/nginx.service", Unit{"nginx.service", "system", "system.slice"}, true},
		{"/system.slice/demo.service/payload", Unit{"demo.service", "system", "system.slice"}, true},
		{"/system.slice/containerd.service/kubepods-burstable-pod1.slice:cri-containerd:abc", Unit{"containerd.service", "system", "system.slice"}, true},
		{"/system.slice/system-getty.slice/getty@tty1.service", Unit{"getty@tty1.service", "system", "system-getty.slice"}, true},
		{"/system.slice/system-systemd\\x2dfsck.slice/systemd-fsck@dev-disk-by\\x2duuid-1234.service", Unit{"systemd-fsck@dev-disk-by\\x2duuid-1234.service", "system", "system-systemd\\x2dfsck.slice"}, true},
		{"/init.scope", Unit{"init.scope", "system", ""}, true},
		{"/user.slice/user-1000.slice/session-3.scope", Unit{"session-3.scope", "system", "user-1000.slice"}, true},
		{"/system.slice/docker-" + dockerID + ".scope", Unit{"docker-" + dockerID + ".scope", "system", "system.slice"}, true},
		{"/machine.slice/libpod-" + podmanID + ".scope/container", Unit{"libpod-" + podmanID + ".scope", "system", "machine.slice"}, true},
		{"/system.slice/docker.socket", Unit{"docker.socket", "system", "system.slice"}, true},
		{"/system.slice/boot-efi.mount", Unit{"boot-efi.mount", "system", "system.slice"}, true},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", Unit{"foo.service", "user@1000", "app.slice"}, true},
		{"/user.slice/user-1000.slice/user@1000.service/session.slice/dbus.service", Unit{"dbus.service", "user@1000", "session.slice"}, true},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope", Unit{"app-gnome-firefox-4242.scope", "user@1000", "app.slice"}, true},
		{"/user.slice/user-1000.slice/user@1000.service/init.scope", Unit{"user@1000.service", "system", "user-1000.slice"}, true},
		{"/user.slice/user-1000.slice/user@1000.service", Unit{"user@1000.service", "system", "user-1000.slice"}, true},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + podmanID + ".scope/container", Unit{"libpod-" + podmanID + ".scope", "user@1000", "user.slice"}, true},
		{"/user.slice/user-0.slice/user@0.service/app.slice/pipewire.service", Unit{"pipewire.service", "user@0", "app.slice"}, true},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + testPodUIDu + ".slice/cri-containerd-" + ctrdID + ".scope", Unit{"cri-containerd-" + ctrdID + ".scope", "system", "kubepods-burstable-pod" + testPodUIDu + ".slice"}, true},
		// No unit.
		{"/", Unit{}, false},
		{"", Unit{}, false},
		{"/user.slice", Unit{}, false},
		{"/user.slice/user-1000.slice", Unit{}, false},
		{"/docker/" + dockerID, Unit{}, false},
		{"/kubepods/burstable/pod" + testPodUID + "/" + ctrdID, Unit{}, false},
		{"/lxc.payload.web/system.slice/nginx.service", Unit{}, false},
		{"/process_api/ab05", Unit{}, false},
		{"/../../system.slice/cron.service", Unit{}, false},
		{"/system.slice/.service", Unit{}, false},
		{"/.slice/x.service", Unit{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := UnitOf(tt.path)
			if ok != tt.ok {
				t.Fatalf("UnitOf(%q) = %+v, %v; want ok %v", tt.path, got, ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("UnitOf(%q) mismatch (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

func TestContainerOf(t *testing.T) {
	tests := []struct {
		name string
		path string
		want Container
		ok   bool
	}{
		{"docker cgroupfs v1", "/docker/" + dockerID, Container{Runtime: "docker", ID: dockerID}, true},
		{"docker systemd v2", "/system.slice/docker-" + dockerID + ".scope", Container{Runtime: "docker", ID: dockerID}, true},
		{"docker systemd, systemd inside", "/system.slice/docker-" + dockerID + ".scope/system.slice/nginx.service", Container{Runtime: "docker", ID: dockerID}, true},
		{"docker rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" + dockerID + ".scope", Container{Runtime: "docker", ID: dockerID}, true},
		{"docker in docker: outermost", "/docker/" + dockerID + "/docker/" + podmanID, Container{Runtime: "docker", ID: dockerID}, true},
		{"podman systemd", "/machine.slice/libpod-" + podmanID + ".scope", Container{Runtime: "podman", ID: podmanID}, true},
		{"podman systemd payload", "/machine.slice/libpod-" + podmanID + ".scope/container", Container{Runtime: "podman", ID: podmanID}, true},
		{"podman in a pod", "/machine.slice/machine-libpod_pod_" + ctrdID + ".slice/libpod-" + podmanID + ".scope/container", Container{Runtime: "podman", ID: podmanID}, true},
		{"podman cgroupfs", "/libpod_parent/libpod-" + podmanID, Container{Runtime: "podman", ID: podmanID}, true},
		{"podman rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + podmanID + ".scope/container", Container{Runtime: "podman", ID: podmanID}, true},
		{"podman conmon is not the container", "/machine.slice/libpod-conmon-" + podmanID + ".scope", Container{}, false},
		{"containerd CRI", "/system.slice/cri-containerd-" + ctrdID + ".scope", Container{Runtime: "containerd", ID: ctrdID}, true},
		{"nerdctl", "/system.slice/nerdctl-" + ctrdID + ".scope", Container{Runtime: "containerd", ID: ctrdID}, true},
		{"cri-o", "/system.slice/crio-" + ctrdID + ".scope", Container{Runtime: "cri-o", ID: ctrdID}, true},
		{"cri-o conmon is not the container", "/system.slice/crio-conmon-" + ctrdID + ".scope", Container{}, false},
		{"kubepods cgroupfs burstable", "/kubepods/burstable/pod" + testPodUID + "/" + ctrdID, Container{Runtime: "kubernetes", ID: ctrdID, PodUID: testPodUID}, true},
		{"kubepods cgroupfs guaranteed", "/kubepods/pod" + testPodUID + "/" + ctrdID, Container{Runtime: "kubernetes", ID: ctrdID, PodUID: testPodUID}, true},
		{"kubepods cgroupfs cri-o", "/kubepods/besteffort/pod" + testPodUID + "/crio-" + ctrdID, Container{Runtime: "kubernetes", ID: ctrdID, PodUID: testPodUID, Engine: "cri-o"}, true},
		{"kubepods cgroupfs v1 pod cgroup itself", "/kubepods/besteffort/pod" + testPodUID, Container{Runtime: "kubernetes", PodUID: testPodUID}, true},
		{"kubepods systemd containerd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + testPodUIDu + ".slice/cri-containerd-" + ctrdID + ".scope", Container{Runtime: "kubernetes", ID: ctrdID, PodUID: testPodUID, Engine: "containerd"}, true},
		{"kubepods systemd guaranteed cri-o", "/kubepods.slice/kubepods-pod" + testPodUIDu + ".slice/crio-" + ctrdID + ".scope", Container{Runtime: "kubernetes", ID: ctrdID, PodUID: testPodUID, Engine: "cri-o"}, true},
		{"kubepods systemd besteffort docker", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + testPodUIDu + ".slice/docker-" + dockerID + ".scope", Container{Runtime: "kubernetes", ID: dockerID, PodUID: testPodUID, Engine: "docker"}, true},
		{"kubepods static pod (hash UID)", "/kubepods/burstable/pod6f1a2b3c4d5e6f708192a3b4c5d6e7f8/" + ctrdID, Container{Runtime: "kubernetes", ID: ctrdID, PodUID: "6f1a2b3c4d5e6f708192a3b4c5d6e7f8"}, true},
		{"kubepods cri-o conmon", "/kubepods.slice/kubepods-pod" + testPodUIDu + ".slice/crio-conmon-" + ctrdID + ".scope", Container{}, false},
		{"kubepods QoS only", "/kubepods.slice/kubepods-burstable.slice", Container{}, false},
		{"kind: kubelet in a docker container", "/system.slice/docker-" + dockerID + ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" + testPodUIDu + ".slice/cri-containerd-" + ctrdID + ".scope", Container{Runtime: "docker", ID: dockerID}, true},
		{"lxc v1", "/lxc/web", Container{Runtime: "lxc", Name: "web"}, true},
		{"lxc 3 payload dir", "/lxc.payload/web/init.scope", Container{Runtime: "lxc", Name: "web"}, true},
		{"lxc 4 payload", "/lxc.payload.web", Container{Runtime: "lxc", Name: "web"}, true},
		{"lxd payload with dots", "/lxc.payload.my.box/system.slice/nginx.service", Container{Runtime: "lxc", Name: "my.box"}, true},
		{"lxc monitor is not the container", "/lxc.monitor.web", Container{}, false},
		{"lxc with no name", "/lxc", Container{}, false},
		{"short docker id", "/docker/3f4b8a2e9c1d", Container{}, false},
		{"upper-case id", "/docker/3F4B8A2E9C1D5E6F7A8B9C0D1E2F3A4B5C6D7E8F9A0B1C2D3E4F5A6B7C8D9E0F", Container{}, false},
		{"plain service", "/system.slice/nginx.service", Container{}, false},
		{"docker daemon itself", "/system.slice/docker.service", Container{}, false},
		{"root", "/", Container{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ContainerOf(tt.path)
			if ok != tt.ok {
				t.Fatalf("ContainerOf(%q) = %+v, %v; want ok %v", tt.path, got, ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ContainerOf(%q) mismatch (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}
