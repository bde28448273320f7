// Command gopsutil-conns lists sockets with gopsutil v4, one line per socket
// with its pid, so that a benchmark can time gopsutil as a peer of ss, lsof
// and netstat.
//
// Usage:
//
//	gopsutil-conns [-kind tcp] [-without-uids] [-pid PID]
//
// -kind is gopsutil's kind ("tcp", "tcp4", "udp", "inet", "all", ...).
// By default it calls net.Connections(kind), which also reads
// /proc/PID/status for every connection to fill in its Uids;
// -without-uids calls net.ConnectionsWithoutUids(kind) instead, and -pid
// calls net.ConnectionsPid(kind, PID).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/shirou/gopsutil/v4/net"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gopsutil-conns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "tcp", "gopsutil connection kind: tcp, tcp4, tcp6, udp, inet, all, ...")
	withoutUids := fs.Bool("without-uids", false, "call ConnectionsWithoutUids (skips the /proc/PID/status read per connection)")
	pid := fs.Int("pid", 0, "call ConnectionsPid for this pid only")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	var (
		conns []net.ConnectionStat
		err   error
	)
	switch {
	case *pid > 0 && *withoutUids:
		conns, err = net.ConnectionsPidWithoutUids(*kind, int32(*pid))
	case *pid > 0:
		conns, err = net.ConnectionsPid(*kind, int32(*pid))
	case *withoutUids:
		conns, err = net.ConnectionsWithoutUids(*kind)
	default:
		conns, err = net.Connections(*kind)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gopsutil-conns: %v\n", err)
		return 1
	}
	w := bufio.NewWriter(stdout)
	for _, c := range conns {
		fmt.Fprintf(w, "%s %s:%d %s:%d pid=%d uids=%v\n", c.Status, c.Laddr.IP, c.Laddr.Port, c.Raddr.IP, c.Raddr.Port, c.Pid, c.Uids)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "gopsutil-conns: writing output: %v\n", err)
		return 1
	}
	return 0
}
