package main

// This file is one child: it opens its fillers and listeners, reports "L",
// waits for its go byte (the parent writes one per child once every child
// listens), dials its connections, waits until its listeners have accepted
// their share, reports "D", and then holds everything until it is killed.
//
// Lines go to stdout, which is a pipe shared by all children; each line is
// far shorter than PIPE_BUF, so writes from different children never mix.
// Stdin is the shared go pipe; a one-byte read takes exactly one byte.
//
// The child installs no signal handler: os/signal costs two extra threads per
// process, and SIGTERM's default action is what we want anyway.

import (
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// atFDCWD is AT_FDCWD (-100, <fcntl.h>) as a syscall argument; package
// syscall does not export it.
var atFDCWD = func() uintptr { v := -100; return uintptr(v) }()

// held keeps every net.Conn and net.Listener reachable, so that no finalizer
// ever closes one. Raw fds (fillers) have no finalizers.
var held struct {
	sync.Mutex
	v []any
}

func hold(x any) {
	held.Lock()
	held.v = append(held.v, x)
	held.Unlock()
}

func report(format string, args ...any) {
	// A failed write means the parent is gone; the parent-death signal ends us.
	_, _ = fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func runChild(o childOptions) error {
	err := buildChild(o)
	if err != nil {
		report("E %d %v", o.index, err)
		return err
	}
	// Hold until killed. A pending timer keeps the runtime from declaring a
	// deadlock when no goroutine waits on the network.
	for {
		time.Sleep(time.Hour)
	}
}

func buildChild(o childOptions) error {
	if err := openFillers(o.fillers, o.fillerFile); err != nil {
		return err
	}

	// One slot per expected connection, so acceptLoop never blocks and never
	// drops a count that buildChild still waits for.
	accepted := make(chan struct{}, max(o.accept, 1))
	for _, port := range o.listen {
		ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			return fmt.Errorf("listening on 127.0.0.1:%d: %w", port, err)
		}
		hold(ln)
		go acceptLoop(ln, accepted)
	}

	report("L %d", o.index)
	if err := waitGo(); err != nil {
		return err
	}

	deadline := time.After(o.timeout)
	for _, port := range o.connect {
		c, err := dial(port, o.timeout)
		if err != nil {
			return err
		}
		hold(c)
	}
	for n := 0; n < o.accept; n++ {
		select {
		case <-accepted:
		case <-deadline:
			return fmt.Errorf("accepted %d of %d connections within %v", n, o.accept, o.timeout)
		}
	}
	report("D %d", o.index)
	return nil
}

// waitGo takes one byte from the go pipe on stdin. EOF means the parent
// gave up.
func waitGo() error {
	var b [1]byte
	for {
		n, err := syscall.Read(0, b[:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return fmt.Errorf("reading the go pipe: %w", err)
		case n == 0:
			return fmt.Errorf("the parent closed the go pipe")
		}
		return nil
	}
}

func acceptLoop(ln *net.TCPListener, accepted chan<- struct{}) {
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			// Transient errors (EMFILE, ECONNABORTED) must not end the loop.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		noTimeWait(c)
		hold(c)
		select {
		case accepted <- struct{}{}:
		default: // more than expected: keep it, nobody counts it
		}
	}
}

// noTimeWait sets SO_LINGER to 0, so that when the child dies the
// connection is reset instead of leaving a TIME-WAIT socket behind for a
// minute: tens of thousands of those would pollute the next scenario's
// socket table.
func noTimeWait(c *net.TCPConn) {
	_ = c.SetLinger(0) // best effort: only the clean-up gets slower
}

// dial connects to 127.0.0.1:port, retrying for a while: with thousands of
// children connecting at once a SYN can be dropped and a connect refused.
func dial(port int, timeout time.Duration) (net.Conn, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	end := time.Now().Add(timeout)
	wait := 50 * time.Millisecond
	for {
		c, err := net.DialTimeout("tcp4", addr, 30*time.Second)
		if err == nil {
			noTimeWait(c.(*net.TCPConn))
			return c, nil
		}
		if time.Now().After(end) {
			return nil, fmt.Errorf("connecting to %s: %w", addr, err)
		}
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

// openFillers opens the child's filler fds as raw fds that stay open until
// the process dies.
func openFillers(m int, fillerFile string) error {
	files, unixEnds, udp := fillerSplit(m)
	path, err := syscall.BytePtrFromString(fillerFile)
	if err != nil {
		return fmt.Errorf("filler file %q: %w", fillerFile, err)
	}
	for range files {
		// A raw openat never hands the P off, so a child descheduled in the
		// middle of it does not make the runtime start another thread.
		_, _, errno := syscall.RawSyscall6(syscall.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(path)),
			syscall.O_RDONLY|syscall.O_CLOEXEC, 0, 0, 0)
		if errno != 0 {
			return fmt.Errorf("opening %s: %w", fillerFile, errno)
		}
	}
	for range unixEnds / 2 {
		if _, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0); err != nil {
			return fmt.Errorf("socketpair: %w", err)
		}
	}
	for range udp {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("udp socket: %w", err)
		}
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return fmt.Errorf("binding udp socket to 127.0.0.1:0: %w", err)
		}
	}
	return nil
}
