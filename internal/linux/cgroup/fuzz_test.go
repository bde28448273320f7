package cgroup

import (
	"strings"
	"testing"
)

func FuzzParseProcCgroup(f *testing.F) {
	f.Add([]byte("12:blkio:/system.slice/demo.service\n1:name=systemd:/system.slice/demo.service\n0::/system.slice/demo.service\n"))
	f.Add([]byte("0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n"))
	f.Add([]byte("0::/gone (deleted)\n"))
	f.Add([]byte("3:memory:/lxc/web\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProcCgroup(b)
		if err == nil && !strings.HasPrefix(p, "/") {
			t.Errorf("ParseProcCgroup(%q) = %q; want an absolute path", b, p)
		}
	})
}

func FuzzUnitOf(f *testing.F) {
	for _, s := range []string{
		"/system.slice/nginx.service",
		"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
		"/user.slice/user-1000.slice/user@1000.service/init.scope",
		"/init.scope",
		"/",
		"user@.service/user@1.service//x.scope",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		u, ok := UnitOf(path)
		if ok && (u.Name == "" || !strings.Contains(path, u.Name)) {
			t.Errorf("UnitOf(%q) = %+v; want a unit named in the path", path, u)
		}
		if !ok && u != (Unit{}) {
			t.Errorf("UnitOf(%q) = %+v, false; want the zero Unit", path, u)
		}
	})
}

func FuzzContainerOf(f *testing.F) {
	for _, s := range []string{
		"/docker/" + dockerID,
		"/system.slice/docker-" + dockerID + ".scope",
		"/kubepods/burstable/pod" + testPodUID + "/" + ctrdID,
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + testPodUIDu + ".slice/cri-containerd-" + ctrdID + ".scope",
		"/kubepods.slice/kubepods-pod.slice",
		"/lxc.payload.web",
		"/lxc/",
		"/machine.slice/libpod-conmon-" + podmanID + ".scope",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		c, ok := ContainerOf(path)
		if !ok {
			if c != (Container{}) {
				t.Errorf("ContainerOf(%q) = %+v, false; want the zero Container", path, c)
			}
			return
		}
		if c.Runtime == "" || c.ID == "" && c.Name == "" && c.PodUID == "" {
			t.Errorf("ContainerOf(%q) = %+v; want a runtime and an identity", path, c)
		}
		if c.ID != "" && !isContainerID(c.ID) {
			t.Errorf("ContainerOf(%q) ID = %q; want 64 hex digits", path, c.ID)
		}
	})
}
