package act

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/linux/containers"
	"github.com/whobinds/whobinds/internal/linux/procfs"
	"github.com/whobinds/whobinds/internal/model"
)

func init() {
	newFreeOS = func() freeOS { return &linuxFree{proc: "/proc", root: "/"} }
}

// linuxFree frees ports on Linux: units through systemctl, containers
// through docker or podman, processes through pidfds.
//
// systemctl, docker and podman are run to act, never to list: stopping a
// unit or a container is their job (their APIs, D-Bus and the engines'
// sockets, are the alternative). The one listing they do is `systemctl
// show` of the holders' own units, for MainPID= and Restart=, which the
// unit files alone cannot say (MainPID is run-time state).
type linuxFree struct {
	proc, root string
}

func (l *linuxFree) gather(ctx context.Context, snap *model.Snapshot) FreeFacts {
	f := FreeFacts{Self: os.Getpid(), Units: map[string]SystemdUnit{}, Containers: map[string]ContainerInfo{}}
	if link, err := os.Readlink(filepath.Join(l.proc, "self/ns/pid")); err == nil {
		f.PIDNS, _ = procfs.ParseNSLink([]byte(link), "pid")
	}
	for manager, names := range freeUnitsToAsk(snap) {
		user := ""
		if manager != "system" {
			user = freeManagerUser(snap, manager)
		}
		args := append(freeSystemctlArgs(manager, user), append([]string{"show", "-p", "Id,LoadState,ActiveState,UnitFileState,MainPID,Restart", "--"}, names...)...)
		out, err := freeRun(ctx, "systemctl", args...)
		if err != nil {
			f.Warnings = append(f.Warnings, fmt.Sprintf("reading the units %s from the %s manager: %v; whether systemd restarts their processes is unknown", strings.Join(names, ", "), manager, err))
			continue
		}
		units, err := ParseSystemctlShow(out, manager)
		if err != nil {
			f.Warnings = append(f.Warnings, err.Error())
		}
		for _, u := range units {
			f.Units[UnitKey(manager, u.Name)] = u
		}
	}
	store := &containers.Store{Root: l.root}
	for i := range snap.Sockets {
		for _, a := range snap.Sockets[i].Attributions {
			if (a.Kind != model.AttrContainer && a.Kind != model.AttrForwarder) || a.ID == "" || a.Name == "" {
				continue
			}
			engine := a.Manager
			if a.Kind == model.AttrForwarder {
				engine = map[string]string{"docker-proxy": "docker"}[a.Manager]
			}
			if engine != "docker" {
				continue // only docker's metadata records the restart policy
			}
			info, ok, err := store.ByID(engine, a.ID)
			if err != nil {
				f.Warnings = append(f.Warnings, fmt.Sprintf("reading the restart policy of container %s: %v", a.Name, err))
			}
			if ok {
				f.Containers[ContainerKey(engine, a.Name)] = ContainerInfo{Engine: engine, Name: a.Name, RestartPolicy: info.RestartPolicy}
			}
		}
	}
	return f
}

// freeManagerUser names the user of a user manager ("user@1000") for
// `systemctl --user -M USER@`, from a holder running as that user.
func freeManagerUser(snap *model.Snapshot, manager string) string {
	uid := strings.TrimPrefix(manager, "user@")
	for i := range snap.Sockets {
		for _, h := range snap.Sockets[i].Holders {
			if h.Process != nil && strconv.FormatUint(uint64(h.Process.UID), 10) == uid && h.Process.User != "" {
				return h.Process.User
			}
		}
	}
	return uid
}

// freeSystemctlArgs selects the manager: the system's, our own user's, or as
// root another user's (systemd 248 and later).
func freeSystemctlArgs(manager, user string) []string {
	switch {
	case manager == "system":
		return nil
	case os.Geteuid() == 0 && manager != "user@0":
		return []string{"--user", "-M", user + "@"}
	}
	return []string{"--user"}
}

func freeRun(ctx context.Context, name string, args ...string) ([]byte, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if msg == "" {
			return nil, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

func (l *linuxFree) stop(ctx context.Context, s Step) error {
	switch s.Kind {
	case StopUnit:
		base := freeSystemctlArgs(s.Manager, s.User)
		if _, err := freeRun(ctx, "systemctl", append(base, "stop", "--", s.Name)...); err != nil {
			return err
		}
		if !s.Disable {
			return nil
		}
		_, err := freeRun(ctx, "systemctl", append(base, "disable", "--", s.Name)...)
		return err
	case StopContainer:
		if s.Manager != "docker" && s.Manager != "podman" {
			return fmt.Errorf("stopping a %s container: unknown engine", s.Manager)
		}
		_, err := freeRun(ctx, s.Manager, "stop", "--", s.Name)
		return err
	}
	return fmt.Errorf("%s %s: %w on linux", s.Kind, s.Name, engine.ErrNotSupported)
}

// open opens a pidfd for the step's PID and then checks, in /proc, that
// the process it refers to started when the snapshot's did. Opening first
// closes the race: a process that exits after the check leaves the pidfd
// pointing at it, dead, and pidfd_send_signal then fails instead of
// signalling whoever took the PID.
func (l *linuxFree) open(s Step) (freeProc, error) {
	fd, err := unix.PidfdOpen(s.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, errFreeGone
	}
	if err != nil {
		return nil, fmt.Errorf("pidfd_open(%d): %w", s.PID, err)
	}
	b, err := os.ReadFile(filepath.Join(l.proc, strconv.Itoa(s.PID), "stat"))
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return nil, errFreeGone
		}
		return nil, fmt.Errorf("reading the start time of pid %d: %w", s.PID, err)
	}
	st, err := procfs.ParseStat(b)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pid %d: %w", s.PID, err)
	}
	if st.StartTicks != s.StartTicks {
		unix.Close(fd)
		return nil, fmt.Errorf("pid %d is now %s, which started at tick %d, not %d: %w", s.PID, st.Comm, st.StartTicks, s.StartTicks, errFreeReused)
	}
	if st.KernelThread() {
		unix.Close(fd)
		return nil, fmt.Errorf("pid %d (%s) is a kernel thread", s.PID, st.Comm)
	}
	if st.State == 'Z' || st.State == 'X' {
		unix.Close(fd)
		return nil, errFreeGone
	}
	return &freePidfd{fd: fd, pid: s.PID}, nil
}

// freePidfd is a process held by a pidfd: signals reach it or nobody.
type freePidfd struct {
	fd, pid int
}

func (p *freePidfd) signal(sig unix.Signal) error {
	err := unix.PidfdSendSignal(p.fd, sig, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return errFreeGone
	}
	if err != nil {
		return fmt.Errorf("sending %v to pid %d: %w", unix.SignalName(sig), p.pid, err)
	}
	return nil
}

func (p *freePidfd) terminate() error { return p.signal(unix.SIGTERM) }
func (p *freePidfd) kill() error      { return p.signal(unix.SIGKILL) }

// wait polls the pidfd, which becomes readable when the process exits.
func (p *freePidfd) wait(deadline time.Time) bool {
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms < 0 {
			ms = 0
		}
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0
	}
}

func (p *freePidfd) close() { unix.Close(p.fd) }

// children lists the live children of ppid from /proc/*/stat.
func (l *linuxFree) children(ppid int) []freeChild {
	ents, err := os.ReadDir(l.proc)
	if err != nil {
		return nil
	}
	var out []freeChild
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(l.proc, e.Name(), "stat"))
		if err != nil {
			continue
		}
		st, err := procfs.ParseStat(b)
		if err != nil || st.PPID != ppid || st.State == 'Z' {
			continue
		}
		out = append(out, freeChild{PID: pid, Name: st.Comm, StartTicks: st.StartTicks})
	}
	return out
}
