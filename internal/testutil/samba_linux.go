package testutil

// This file starts Samba's standalone DCE/RPC server for tests, and holds
// the process-group plumbing that makes sure none of a daemon's processes
// outlives its test.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SambaDcerpcd is where Debian's samba package installs samba-dcerpcd,
// the server that listens on the endpoint mapper's port 135 and starts
// the rpcd_* helpers that serve the interfaces.
const SambaDcerpcd = "/usr/libexec/samba/samba-dcerpcd"

// StartSambaDcerpcd runs samba-dcerpcd with every rpcd_* helper in the
// caller's namespaces, for a test inside InNamespaces: it listens on lo
// alone (TCP 135 and a few dynamic ports from 49152), its configuration
// and state live in a temporary directory, nothing of the host's Samba is
// read or written. It returns the daemon's PID once the daemon says it is
// ready; its listeners are open then and its endpoint map complete. When
// the test ends every process of the daemon is stopped. Missing when
// Samba is not installed.
func StartSambaDcerpcd(t testing.TB) (pid int) {
	t.Helper()
	if _, err := os.Stat(SambaDcerpcd); err != nil {
		Missing(t, "%s not installed (Debian package samba): %v", SambaDcerpcd, err)
	}
	conf := sambaConf(t, t.TempDir())

	ready, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("creating the ready pipe: %v", err)
	}
	defer ready.Close()
	// --libexec-rpcds: start the helpers installed beside it, rather than
	// none; --ready-signal-fd: write a byte to fd 3 once listening.
	cmd := exec.Command(SambaDcerpcd, "--libexec-rpcds", "--foreground", "--configfile="+conf,
		"--debug-stdout", "--debuglevel=1", "--ready-signal-fd=3")
	cmd.ExtraFiles = []*os.File{w} // fd 3
	pid, exited := StartProcessGroup(t, cmd)
	w.Close()

	got := make(chan error, 1)
	go func() {
		_, err := ready.Read(make([]byte, 1))
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			// EOF: it exited, or closed the fd, without saying ready.
			t.Fatalf("samba-dcerpcd (pid %d) did not get ready: %v", pid, err)
		}
	case <-exited:
		t.Fatalf("samba-dcerpcd (pid %d) exited before it was ready", pid)
	case <-time.After(60 * time.Second):
		t.Fatalf("samba-dcerpcd (pid %d) not ready after 60 s", pid)
	}
	return pid
}

// sambaConf writes an smb.conf for a standalone server on lo whose every
// directory is under dir, and returns its path. The helpers start with
// samba-dcerpcd rather than on the first connection, so the endpoint map
// is complete once it is ready.
func sambaConf(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`[global]
	netbios name = WBTEST
	workgroup = WBTEST
	server role = standalone server
	interfaces = lo
	bind interfaces only = yes
	rpc start on demand helpers = no
`)
	for _, d := range []string{"lock directory", "state directory", "cache directory", "pid directory", "private dir", "ncalrpc dir"} {
		p := filepath.Join(dir, strings.Fields(d)[0])
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\t%s = %s\n", d, p)
	}
	fmt.Fprintf(&b, "\tlog file = %s\n", filepath.Join(dir, "log.%m"))
	conf := filepath.Join(dir, "smb.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// StartProcessGroup starts a daemon that stays in the foreground, in a
// process group of its own, and returns its PID and a channel closed when
// it exits. When the test ends the group gets SIGTERM, then SIGKILL for
// whatever is left of it after 10 s (workers that outlived the daemon);
// if the test failed, the daemon's output is logged.
//
// Standard input is /dev/null unless cmd says otherwise: samba-dcerpcd in
// the foreground with a pipe or a file at EOF on standard input never
// opens its listeners.
func StartProcessGroup(t testing.TB, cmd *exec.Cmd) (pid int, exited <-chan struct{}) {
	t.Helper()
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	leader := cmd.Process.Pid
	t.Cleanup(func() {
		syscall.Kill(-leader, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		// The group's members are the daemon's: the kernel does not
		// reuse a PID while a process group of that ID has members.
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			live := 0
			for _, p := range groupMembers(leader) {
				if f := statFields(p); len(f) > 0 && f[0] != "Z" {
					syscall.Kill(p, syscall.SIGKILL)
					live++
				}
			}
			if live == 0 {
				break
			}
		}
		<-done
		if t.Failed() {
			t.Logf("%s\noutput:\n%s", strings.Join(cmd.Args, " "), log.String())
		}
	})
	return leader, done
}

// DescendsFrom reports whether process pid is root or one of its
// descendants, following parents in /proc.
func DescendsFrom(pid, root int) bool {
	for range 64 {
		if pid == root {
			return true
		}
		if pid <= 1 {
			return false
		}
		f := statFields(pid)
		if len(f) < 2 {
			return false
		}
		pid, _ = strconv.Atoi(f[1])
	}
	return false
}

// groupMembers lists the processes of a process group, zombies included.
func groupMembers(pgid int) []int {
	dirs, _ := os.ReadDir("/proc")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if f := statFields(pid); len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// statFields returns the fields of /proc/PID/stat after the command name:
// state, ppid, pgrp, ...
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	// The command name may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}
