package cgroup

import "strings"

// Container is a container recognised from a cgroup path.
type Container struct {
	// Runtime is the engine the path shape belongs to: "docker", "podman",
	// "containerd", "cri-o", "kubernetes" or "lxc".
	Runtime string
	// ID is the engine's full container ID (64 hex digits); empty for LXC
	// and for a process in a Kubernetes pod's cgroup outside any container.
	ID string
	// PodUID is the Kubernetes pod UID with dashes
	// ("8f1c1a46-7e3c-4b8e-9b51-b33b04a2c3c1"), for Runtime "kubernetes".
	PodUID string
	// Name is the container name, for LXC, where the path carries it.
	Name string
	// Engine is, for Runtime "kubernetes", the container runtime the path
	// names ("containerd", "cri-o", "docker"); empty when the path does not
	// say, as with the kubelet's cgroupfs driver and containerd or docker.
	Engine string
}

// scopePrefixes map the prefix of a "PREFIX<ID>[.scope]" path element to
// the runtime whose containers it holds. Monitors such as
// "libpod-conmon-<ID>.scope" and "crio-conmon-<ID>.scope" do not match,
// because what follows the prefix must be a container ID.
var scopePrefixes = [...]struct{ prefix, runtime string }{
	{"docker-", "docker"},             // docker, systemd driver
	{"libpod-", "podman"},             // podman, both drivers
	{"cri-containerd-", "containerd"}, // containerd CRI, systemd driver
	{"crio-", "cri-o"},                // cri-o, both drivers
	{"nerdctl-", "containerd"},        // nerdctl, systemd driver
}

// ContainerOf recognises a container from a cgroup path, from the shapes
// that container engines create:
//
//	/docker/ID                                        docker, cgroupfs driver
//	/system.slice/docker-ID.scope                     docker, systemd driver
//	/machine.slice/libpod-ID.scope[/container]        podman, systemd driver
//	/libpod_parent/libpod-ID                          podman, cgroupfs driver
//	/system.slice/cri-containerd-ID.scope             containerd CRI
//	/system.slice/crio-ID.scope                       cri-o
//	/kubepods/QOS/podUID/ID                           kubelet, cgroupfs driver
//	/kubepods.slice/kubepods-QOS.slice/
//	    kubepods-QOS-podUID.slice/cri-containerd-ID.scope  kubelet, systemd driver
//	/lxc/NAME, /lxc.payload.NAME, /lxc.payload/NAME   LXC and LXD
//
// Engine monitors (conmon, lxc.monitor) are not containers. When
// containers nest (docker in docker, kind), the outermost one is returned:
// it is the one the host's engine knows.
func ContainerOf(path string) (Container, bool) {
	cs := components(path)
	for i, c := range cs {
		var next string
		if i+1 < len(cs) {
			next = cs[i+1]
		}
		switch {
		case c == "kubepods" || c == "kubepods.slice":
			return kubepodsContainer(cs[i+1:])
		case c == "docker" && isContainerID(next):
			return Container{Runtime: "docker", ID: next}, true
		case (c == "lxc" || c == "lxc.payload") && next != "":
			return Container{Runtime: "lxc", Name: next}, true
		case strings.HasPrefix(c, "lxc.payload.") && len(c) > len("lxc.payload."):
			return Container{Runtime: "lxc", Name: c[len("lxc.payload."):]}, true
		}
		if runtime, id, ok := scopeContainer(c); ok {
			return Container{Runtime: runtime, ID: id}, true
		}
	}
	return Container{}, false
}

// kubepodsContainer reads the path below the kubelet's "kubepods" cgroup:
// QoS classes, then the pod, then the container.
func kubepodsContainer(cs []string) (Container, bool) {
	for i, c := range cs {
		uid, ok := podUID(c)
		if !ok {
			continue
		}
		k := Container{Runtime: "kubernetes", PodUID: uid}
		if i+1 == len(cs) {
			// A process in the pod's own cgroup (possible on cgroup v1).
			return k, true
		}
		next := cs[i+1]
		if isContainerID(next) {
			k.ID = next
			return k, true
		}
		runtime, id, ok := scopeContainer(next)
		if !ok {
			// A monitor such as crio-conmon-ID.scope: in the pod, not
			// in a container.
			return Container{}, false
		}
		k.ID, k.Engine = id, runtime
		return k, true
	}
	return Container{}, false
}

// podUID recognises a pod's cgroup: "pod<UID>" (cgroupfs driver) or
// "kubepods[-QOS]-pod<UID with _ for ->.slice" (systemd driver).
func podUID(c string) (string, bool) {
	if s, ok := strings.CutSuffix(c, ".slice"); ok {
		i := strings.LastIndex(s, "-pod")
		if i < 0 || !strings.HasPrefix(s, "kubepods-") {
			return "", false
		}
		uid := strings.ReplaceAll(s[i+len("-pod"):], "_", "-")
		return uid, isPodUID(uid)
	}
	uid, ok := strings.CutPrefix(c, "pod")
	return uid, ok && isPodUID(uid)
}

// isPodUID accepts the UIDs the API server assigns (UUIDs) and those the
// kubelet derives for static pods (hex hashes).
func isPodUID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

// scopeContainer recognises "PREFIX<ID>" and "PREFIX<ID>.scope" path
// elements from scopePrefixes.
func scopeContainer(c string) (runtime, id string, ok bool) {
	for _, p := range scopePrefixes {
		rest, ok := strings.CutPrefix(c, p.prefix)
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, ".scope")
		if isContainerID(rest) {
			return p.runtime, rest, true
		}
	}
	return "", "", false
}

// isContainerID reports whether s is a full container ID: 64 lowercase hex
// digits, as docker, podman, containerd and cri-o all generate.
func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f'
}
