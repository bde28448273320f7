package containers

// Integration tests against real engines: a private docker daemon and a
// private podman store, each running a busybox image imported from a
// tarball (no registry needed), checked end to end: the container's cgroup
// names it, its engine's metadata names its image, and (docker) the
// docker-proxy that publishes its port points back at it.

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/linux/cgroup"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/testutil"
)

// containerOfPID reads a process's cgroup and recognises its container.
func containerOfPID(t *testing.T, pid int) (cgroup.Container, string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatalf("reading cgroup of %d: %v", pid, err)
	}
	path, err := cgroup.ParseProcCgroup(b)
	if err != nil {
		t.Fatalf("ParseProcCgroup(/proc/%d/cgroup) error: %v\n%s", pid, err, b)
	}
	c, ok := cgroup.ContainerOf(path)
	if !ok {
		t.Fatalf("ContainerOf(%q) = false; want a container", path)
	}
	return c, path
}

// TestDockerIntegration runs a private dockerd in a network and mount
// namespace of its own (vfs storage, cgroupfs driver), so neither its
// bridge, its iptables rules nor its mounts touch the host.
func TestDockerIntegration(t *testing.T) {
	testutil.NeedRoot(t)
	dockerd := testutil.NeedCommand(t, "dockerd")
	docker := testutil.NeedCommand(t, "docker")
	unshare := testutil.NeedCommand(t, "unshare")
	testutil.NeedCommand(t, "ip")
	busybox := staticBusybox(t)

	// Short paths: containerd puts unix sockets below the exec root.
	dir, err := os.MkdirTemp("", "wbdk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	sock := "unix://" + filepath.Join(dir, "docker.sock")
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	daemon := exec.Command(unshare, "--net", "--mount", "--propagation", "private", "--",
		"sh", "-c", `ip link set lo up && exec "$@"`, "sh",
		dockerd,
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", data,
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", sock,
		"--storage-driver", "vfs",
		"--exec-opt", "native.cgroupdriver=cgroupfs",
		"--containerd-namespace", "whobinds-it",
		"--containerd-plugins-namespace", "whobinds-it-plugins",
	)
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	daemon.Stdout, daemon.Stderr = logf, logf
	if err := daemon.Start(); err != nil {
		t.Fatalf("starting dockerd: %v", err)
	}
	t.Cleanup(func() {
		daemon.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { daemon.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			daemon.Process.Kill()
			<-done
		}
	})
	waitFor(t, 90*time.Second, "dockerd to answer", func() (bool, string) {
		out, err := exec.Command(docker, "-H", sock, "version", "--format", "{{.Server.Version}}").CombinedOutput()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			return false, fmt.Sprintf("%v: %s\ndockerd log:\n%s", err, out, tail(log, 2000))
		}
		return true, ""
	})

	const content = "whobinds docker integration\n"
	tarball := busyboxRootfs(t, dir, content)
	run(t, docker, "-H", sock, "import", tarball, "whobinds-it:1")
	name := fmt.Sprintf("whobinds-it-%d", os.Getpid())
	hostPort := 18081
	id := run(t, docker, "-H", sock, "run", "-d", "--name", name,
		"-p", fmt.Sprintf("127.0.0.1:%d:80", hostPort),
		"--restart", "unless-stopped",
		"whobinds-it:1", "/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	t.Cleanup(func() { exec.Command(docker, "-H", sock, "rm", "-f", name).Run() })
	pid, _ := strconv.Atoi(run(t, docker, "-H", sock, "inspect", "-f", "{{.State.Pid}}", id))
	ip := netip.MustParseAddr(run(t, docker, "-H", sock, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", id))

	t.Run("cgroup", func(t *testing.T) {
		c, path := containerOfPID(t, pid)
		if c.Runtime != "docker" || c.ID != id {
			t.Errorf("ContainerOf(%q) = %+v; want docker %s", path, c, id)
		}
	})

	t.Run("metadata", func(t *testing.T) {
		var got Info
		waitFor(t, time.Minute, "config.v2.json to say the container runs", func() (bool, string) {
			s := &Store{Root: "/", DockerRoots: []string{data}}
			in, ok, err := s.ByID("docker", id[:12])
			got = in
			return ok && in.Running, fmt.Sprintf("%+v, %v, %v", in, ok, err)
		})
		if got.ID != id || got.Name != name || got.Image != "whobinds-it:1" || got.RestartPolicy != "unless-stopped" || got.PID != pid {
			t.Errorf("ByID(docker, %s) = %+v; want ID %s, name %s, image whobinds-it:1, restart unless-stopped, PID %d", id[:12], got, id, name, pid)
		}
		if !slices.Contains(got.IPs, ip) {
			t.Errorf("ByID(docker, %s).IPs = %v; want %v among them", id[:12], got.IPs, ip)
		}
		wantPort := PortBinding{Proto: model.TCP, ContainerPort: 80, HostAddr: netip.MustParseAddr("127.0.0.1"), HostPort: uint16(hostPort)}
		if !slices.Contains(got.Ports, wantPort) {
			t.Errorf("ByID(docker, %s).Ports = %+v; want %+v among them", id[:12], got.Ports, wantPort)
		}
		if want := filepath.Join(data, "containers", id, "config.v2.json"); got.Evidence != want {
			t.Errorf("ByID(docker, %s).Evidence = %q; want %q", id[:12], got.Evidence, want)
		}
	})

	t.Run("docker-proxy", func(t *testing.T) {
		local := fmt.Sprintf("127.0.0.1:%d", hostPort)
		var holders []int
		waitFor(t, time.Minute, "a listener on "+local+" in dockerd's namespace", func() (bool, string) {
			var saw string
			holders, saw = listenHolders(t, daemon.Process.Pid, local)
			return len(holders) > 0, saw
		})
		want := Forward{Kind: "docker-proxy", Proto: model.TCP, HostAddr: netip.MustParseAddr("127.0.0.1"),
			HostPort: uint16(hostPort), HostPortEnd: uint16(hostPort), Target: netip.AddrPortFrom(ip, 80)}
		for _, h := range holders {
			comm, argv := procArgs(t, h)
			fws, ok := ParseForwarder(comm, argv)
			if !ok || len(fws) != 1 || fws[0] != want {
				t.Errorf("ParseForwarder(%q, %q) = %+v, %v; want [%+v]", comm, argv, fws, ok, want)
				continue
			}
			s := &Store{Root: "/", DockerRoots: []string{data}}
			in, ok := s.ByIP(fws[0].Target.Addr())
			if !ok || in.ID != id {
				t.Errorf("ByIP(%v) = %s, %v; want %s", fws[0].Target.Addr(), in.ID, ok, id)
			}
		}
		// The proxy really carries the port to the container's port 80.
		out, err := exec.Command(testutil.NeedCommand(t, "nsenter"), "-t", strconv.Itoa(daemon.Process.Pid), "-n",
			busybox, "wget", "-q", "-O", "-", "http://"+local+"/").CombinedOutput()
		if err != nil || string(out) != content {
			t.Errorf("GET http://%s/ through docker-proxy = %q, %v; want %q", local, out, err, content)
		}
	})
}

// TestPodmanIntegration runs a container from a private podman store
// (vfs storage, cgroupfs manager) with its own network namespace.
func TestPodmanIntegration(t *testing.T) {
	testutil.NeedRoot(t)
	podman := testutil.NeedCommand(t, "podman")
	testutil.NeedCommand(t, "conmon")

	dir, err := os.MkdirTemp("", "wbpm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	root := filepath.Join(dir, "root")
	pm := func(args ...string) []string {
		return append([]string{
			"--root", root,
			"--runroot", filepath.Join(dir, "run"),
			"--tmpdir", filepath.Join(dir, "tmp"),
			"--storage-driver", "vfs",
			"--cgroup-manager", "cgroupfs",
			"--events-backend", "file",
		}, args...)
	}

	const content = "whobinds podman integration\n"
	tarball := busyboxRootfs(t, dir, content)
	run(t, podman, pm("import", tarball, "whobinds-it:1")...)
	name := fmt.Sprintf("whobinds-it-%d", os.Getpid())
	// Explicit limits: podman otherwise raises RLIMIT_NOFILE and
	// RLIMIT_NPROC above this machine's hard limits, which runc refuses
	// without CAP_SYS_RESOURCE.
	id := run(t, podman, pm("run", "-d", "--name", name, "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"localhost/whobinds-it:1", "/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www")...)
	t.Cleanup(func() { exec.Command(podman, pm("rm", "-f", "-t", "0", name)...).Run() })
	pid, _ := strconv.Atoi(run(t, podman, pm("inspect", "-f", "{{.State.Pid}}", id)...))

	t.Run("listener", func(t *testing.T) {
		waitFor(t, time.Minute, "busybox httpd to listen in the container", func() (bool, string) {
			holders, saw := listenHolders(t, pid, "*:80")
			return slices.Contains(holders, pid), saw
		})
	})

	t.Run("cgroup", func(t *testing.T) {
		c, path := containerOfPID(t, pid)
		if c.Runtime != "podman" || c.ID != id {
			t.Errorf("ContainerOf(%q) = %+v; want podman %s", path, c, id)
		}
	})

	t.Run("metadata", func(t *testing.T) {
		s := &Store{Root: "/", StorageRoots: []string{root}}
		got, ok, err := s.ByID("podman", id[:12])
		if err != nil || !ok {
			t.Fatalf("ByID(podman, %s) = _, %v, %v; want found", id[:12], ok, err)
		}
		want := Info{Runtime: "podman", ID: id, Name: name, Image: "localhost/whobinds-it:1",
			Evidence: filepath.Join(root, "vfs-containers", "containers.json")}
		if got.ID != want.ID || got.Name != want.Name || got.Image != want.Image || got.Evidence != want.Evidence {
			t.Errorf("ByID(podman, %s) = %+v; want %+v", id[:12], got, want)
		}
	})
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// TestByIDPermissionDenied checks that metadata only root can read (docker
// keeps DATA-ROOT/containers at mode 0710 and config.v2.json at 0600)
// gives an error that says so, for the caller to print "needs root". Run
// as root, it runs itself again as nobody against a tree root owns.
func TestByIDPermissionDenied(t *testing.T) {
	root := os.Getenv("WHOBINDS_TEST_PERMISSION_ROOT")
	if root == "" {
		root = t.TempDir()
		dir := filepath.Join(root, "var/lib/docker/containers", strings.Repeat("ab", 32))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(`{"ID":"`+strings.Repeat("ab", 32)+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(root, "var/lib/docker/containers"), 0o710); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			rerunAsNobody(t, root)
			return
		}
		// Not root: take the permission away from ourselves.
		if err := os.Chmod(filepath.Join(root, "var/lib/docker/containers"), 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(filepath.Join(root, "var/lib/docker/containers"), 0o755) })
	}
	s := &Store{Root: root, DockerRoots: []string{"/var/lib/docker"}}
	for _, id := range []string{strings.Repeat("ab", 32), strings.Repeat("ab", 6)} {
		_, ok, err := s.ByID("docker", id)
		if ok || !errors.Is(err, fs.ErrPermission) {
			t.Errorf("ByID(docker, %s) as uid %d = %v, %v; want not found and a permission error", id, os.Geteuid(), ok, err)
		}
	}
	if _, ok := s.ByIP(netip.MustParseAddr("172.17.0.2")); ok {
		t.Errorf("ByIP found a container in metadata it cannot read")
	}
}

// rerunAsNobody runs this test again as uid 65534 against root.
func rerunAsNobody(t *testing.T, root string) {
	t.Helper()
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(filepath.Dir(root), "containers.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestByIDPermissionDenied$", "-test.v")
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "WHOBINDS_TEST_PERMISSION_ROOT="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestByIDPermissionDenied") {
		t.Errorf("running the test as nobody: %v\n%s", err, out)
	}
}
