package main

// This file is the parent: it forks the children with syscall.ForkExec (not
// os/exec, whose os.Process keeps a pidfd open per child, which would make
// the parent hold thousands of fds), drives the two set-up phases over one
// shared pipe, writes the READY file, holds, and tears everything down.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func init() {
	// The parent-death signal fires when the *thread* that forked a child
	// exits. Pin main to the main thread, which lives as long as the process,
	// and fork only from main.
	runtime.LockOSThread()
}

// event is one line a child wrote: "L i" (listening), "D i" (done) or
// "E i message" (failed).
type event struct {
	kind  byte
	index int
	msg   string
}

// exit is one reaped child.
type exit struct {
	pid    int
	status syscall.WaitStatus
}

func (e exit) String() string {
	switch {
	case e.status.Signaled():
		return fmt.Sprintf("pid %d killed by %v", e.pid, e.status.Signal())
	case e.status.Exited():
		return fmt.Sprintf("pid %d exited with status %d", e.pid, e.status.ExitStatus())
	}
	return fmt.Sprintf("pid %d: wait status %#x", e.pid, uint32(e.status))
}

var errInterrupted = errors.New("interrupted")

// parent is the running scenario.
type parent struct {
	o      options
	stderr io.Writer
	pids   []int
	alive  map[int]bool
	events chan event
	exits  chan exit
	sigs   chan os.Signal
	seen   map[byte]int // events counted so far, by kind
}

func runParent(o options, stdout, stderr io.Writer) (err error) {
	start := time.Now()
	pl, err := makePlan(o.children, o.listeners, o.conns, o.portBase)
	if err != nil {
		return err
	}
	if err := cloexecInherited(); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding own executable: %w", err)
	}
	if err := os.Remove(o.readyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing stale ready file: %w", err)
	}

	dir, err := os.MkdirTemp("", "loadgen-")
	if err != nil {
		return fmt.Errorf("creating scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // readable by -uid children
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	fillerFile := filepath.Join(dir, "filler")
	if err := os.WriteFile(fillerFile, []byte("loadgen filler file\n"), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", fillerFile, err)
	}

	// pipe carries the children's lines to us; goPipe carries one go byte to
	// each child (its stdin) once all of them listen.
	var pipe, goPipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC); err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	lines := os.NewFile(uintptr(pipe[0]), "children's pipe")
	defer lines.Close()
	if err := syscall.Pipe2(goPipe[:], syscall.O_CLOEXEC); err != nil {
		syscall.Close(pipe[1])
		return fmt.Errorf("pipe: %w", err)
	}
	goWrite := os.NewFile(uintptr(goPipe[1]), "go pipe")
	defer goWrite.Close()
	closeChildEnds := func() {
		syscall.Close(pipe[1])
		syscall.Close(goPipe[0])
	}

	p := &parent{
		o:      o,
		stderr: stderr,
		alive:  make(map[int]bool, o.children),
		events: make(chan event, 256),
		exits:  make(chan exit, o.children+1),
		sigs:   make(chan os.Signal, 1),
		seen:   make(map[byte]int),
	}
	signal.Notify(p.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(p.sigs)
	go readEvents(lines, p.events)
	go reap(p.exits)
	defer func() {
		if terr := p.teardown(); terr != nil && err == nil {
			err = terr
		}
		if rerr := os.Remove(o.readyFile); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	}()

	env := append(os.Environ(), "GOMAXPROCS=1") // fewer threads per child
	attr := &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{uintptr(goPipe[0]), uintptr(pipe[1]), 2},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	if o.uid >= 0 {
		attr.Sys.Credential = &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.gid)}
	}
	timeout := o.setupTimeout
	deadline := time.After(timeout)
	for i, c := range pl.children {
		argv := append([]string{"loadgen"}, childFlags(i, c, o.fillers, fillerFile, timeout)...)
		pid, err := forkExec(exe, argv, attr)
		if err != nil {
			closeChildEnds()
			return fmt.Errorf("starting child %d: %w", i, err)
		}
		p.pids = append(p.pids, pid)
		p.alive[pid] = true
		if err := p.poll(); err != nil {
			closeChildEnds()
			return err
		}
	}
	// Only the children hold these ends from now on.
	closeChildEnds()

	if err := p.waitFor('L', deadline); err != nil {
		return fmt.Errorf("while children open their listeners: %w", err)
	}
	if _, err := goWrite.Write(make([]byte, len(p.pids))); err != nil {
		return fmt.Errorf("writing the go bytes: %w", err)
	}
	if err := p.waitFor('D', deadline); err != nil {
		return fmt.Errorf("while children connect: %w", err)
	}

	setup := time.Since(start)
	ready := fmt.Sprintf("READY pid=%d children=%d fillers=%d listeners=%d conns=%d target_port=%d target_pid=%d ports=%s setup_s=%.2f uid=%d",
		os.Getpid(), o.children, o.fillers, o.listeners, o.conns, pl.targetPort, targetPID(pl, p.pids),
		portRange(o.portBase, o.listeners), setup.Seconds(), childUID(o))
	var b strings.Builder
	b.WriteString(ready + "\nPIDS")
	for _, pid := range p.pids {
		b.WriteString(" " + strconv.Itoa(pid))
	}
	b.WriteString("\n")
	if err := writeAtomic(o.readyFile, b.String()); err != nil {
		return err
	}
	fmt.Fprintln(stdout, ready)

	var expire <-chan time.Time
	if o.duration > 0 {
		expire = time.After(o.duration)
	}
	for {
		select {
		case <-expire:
			return nil
		case <-p.sigs:
			return nil
		case x := <-p.exits:
			delete(p.alive, x.pid)
			return fmt.Errorf("child %v while holding the scenario", x)
		case ev := <-p.events:
			if ev.kind == 'E' {
				return fmt.Errorf("child %d: %s", ev.index, ev.msg)
			}
		}
	}
}

// cloexecInherited marks every fd above stderr close-on-exec. Fds the
// parent inherited without that flag (a shell's saved redirections, a job
// runner's pipes) would otherwise leak into every child, distort the fd
// counts and keep the caller's pipes open after the parent is gone.
func cloexecInherited() error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing own fds: %w", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		// EBADF is the directory fd ReadDir has closed by now.
		_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFD, syscall.FD_CLOEXEC)
	}
	return nil
}

// forkExec starts one child, retrying while the kernel is short of
// processes (EAGAIN) for a moment.
func forkExec(exe string, argv []string, attr *syscall.ProcAttr) (int, error) {
	for try := 0; ; try++ {
		pid, err := syscall.ForkExec(exe, argv, attr)
		if err == nil {
			return pid, nil
		}
		if !errors.Is(err, syscall.EAGAIN) || try == 50 {
			return 0, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// poll handles whatever has arrived without waiting.
func (p *parent) poll() error {
	for {
		select {
		case ev := <-p.events:
			if err := p.handle(ev); err != nil {
				return err
			}
		case x := <-p.exits:
			delete(p.alive, x.pid)
			return fmt.Errorf("child %v during set-up", x)
		case <-p.sigs:
			return errInterrupted
		default:
			return nil
		}
	}
}

// waitFor waits until every child has reported kind.
func (p *parent) waitFor(kind byte, deadline <-chan time.Time) error {
	for p.seen[kind] < len(p.pids) {
		select {
		case ev, ok := <-p.events:
			if !ok {
				return errors.New("every child closed the pipe")
			}
			if err := p.handle(ev); err != nil {
				return err
			}
		case x := <-p.exits:
			delete(p.alive, x.pid)
			return fmt.Errorf("child %v during set-up", x)
		case <-p.sigs:
			return errInterrupted
		case <-deadline:
			return fmt.Errorf("timed out after %v with %d of %d children done", p.o.setupTimeout, p.seen[kind], len(p.pids))
		}
	}
	return nil
}

func (p *parent) handle(ev event) error {
	if ev.kind == 'E' {
		return fmt.Errorf("child %d: %s", ev.index, ev.msg)
	}
	p.seen[ev.kind]++
	return nil
}

// teardown kills every child still alive by PID and reaps them all.
func (p *parent) teardown() error {
	for pid := range p.alive {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	limit := time.After(30 * time.Second)
	for len(p.alive) > 0 {
		select {
		case x := <-p.exits:
			delete(p.alive, x.pid)
		case <-limit:
			return fmt.Errorf("%d children not reaped within 30s", len(p.alive))
		}
	}
	return nil
}

// readEvents turns the children's lines into events.
func readEvents(r io.Reader, events chan<- event) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		kind, rest, ok := strings.Cut(s.Text(), " ")
		if !ok || len(kind) != 1 {
			continue
		}
		idx, msg, _ := strings.Cut(rest, " ")
		i, err := strconv.Atoi(idx)
		if err != nil {
			continue
		}
		events <- event{kind: kind[0], index: i, msg: msg}
	}
	close(events)
}

// reap waits for any child, for as long as the process runs.
func reap(exits chan<- exit) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case err == nil:
			exits <- exit{pid: pid, status: ws}
		case errors.Is(err, syscall.EINTR):
		default: // ECHILD: nothing to wait for yet
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func targetPID(pl plan, pids []int) int {
	if pl.targetChild < 0 {
		return 0
	}
	return pids[pl.targetChild]
}

func portRange(base, n int) string {
	if n == 0 {
		return "none"
	}
	return fmt.Sprintf("%d-%d", base, base+n-1)
}

func childUID(o options) int {
	if o.uid >= 0 {
		return o.uid
	}
	return os.Getuid()
}

func writeAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}
