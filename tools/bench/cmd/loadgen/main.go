// Command loadgen turns this machine into a busy host for benchmarking socket
// owner look-ups: many processes, many open fds, many TCP sockets.
//
// It starts N children (itself re-executed, so they show as "loadgen"). Each
// child holds M filler fds (about 50% regular files, 40% unix socketpair ends,
// 10% UDP sockets bound on 127.0.0.1), its share of L TCP listeners on
// 127.0.0.1:port-base..port-base+L-1, and its share of C established loopback
// TCP connections; both ends of every connection are held, by two different
// children. When everything is in place it writes
//
//	READY pid=... children=N ... target_port=P target_pid=Q ports=A-B setup_s=S
//	PIDS pid1 pid2 ...
//
// to -ready-file, holds until it is killed or -duration runs out, then kills
// its children by PID and reaps them. The children die with the parent even
// when the parent is killed with SIGKILL (parent-death signal).
//
// The parent never holds more than a handful of fds itself, so the scenario
// fits under a hard `ulimit -n` far below its total fd count.
//
// Usage:
//
//	loadgen -children 200 -fillers 20 -listeners 50 -conns 500 -ready-file /tmp/ready
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// options are the parent's flags.
type options struct {
	children, fillers, listeners, conns int
	portBase                            int
	readyFile                           string
	duration                            time.Duration
	setupTimeout                        time.Duration
	uid, gid                            int
}

// childOptions are the flags of one re-executed child.
type childOptions struct {
	index      int
	fillers    int
	fillerFile string
	listen     []int
	accept     int
	connect    []int
	timeout    time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == childArg {
		o, err := parseChild(args[1:])
		if err == nil {
			err = runChild(o)
		}
		if err != nil {
			fmt.Fprintf(stderr, "loadgen child: %v\n", err)
			return 1
		}
		return 0
	}
	o, err := parseParent(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	if err := runParent(o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	return 0
}

// childArg marks a re-executed child; it is the first argument.
const childArg = "-child"

func parseParent(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.children, "children", 200, "number of child processes")
	fs.IntVar(&o.fillers, "fillers", 20, "filler fds per child (50% files, 40% unix socketpair ends, 10% UDP)")
	fs.IntVar(&o.listeners, "listeners", 50, "TCP listeners in total, on 127.0.0.1:port-base...")
	fs.IntVar(&o.conns, "conns", 500, "established loopback TCP connections in total (both ends held)")
	fs.IntVar(&o.portBase, "port-base", 20000, "first listener port")
	fs.StringVar(&o.readyFile, "ready-file", "", "file that receives the READY and PIDS lines (required)")
	fs.DurationVar(&o.duration, "duration", 30*time.Minute, "hold the scenario this long, then tear down (0: until killed)")
	fs.DurationVar(&o.setupTimeout, "setup-timeout", 10*time.Minute, "give up if the scenario is not built within this time")
	fs.IntVar(&o.uid, "uid", -1, "run the children under this uid (-1: the caller's)")
	fs.IntVar(&o.gid, "gid", -1, "run the children under this gid (-1: same as -uid, or the caller's)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.readyFile == "" {
		return o, fmt.Errorf("-ready-file is required")
	}
	if o.fillers < 0 {
		return o, fmt.Errorf("-fillers = %d; want >= 0", o.fillers)
	}
	if o.gid < 0 && o.uid >= 0 {
		o.gid = o.uid
	}
	return o, nil
}

// childFlags renders the arguments of child i under plan p.
func childFlags(i int, c childPlan, fillers int, fillerFile string, timeout time.Duration) []string {
	return []string{
		childArg,
		"-index", strconv.Itoa(i),
		"-fillers", strconv.Itoa(fillers),
		"-filler-file", fillerFile,
		"-listen", joinInts(c.listen),
		"-accept", strconv.Itoa(c.accept),
		"-connect", joinInts(c.connect),
		"-timeout", timeout.String(),
	}
}

func parseChild(args []string) (childOptions, error) {
	var o childOptions
	var listen, connect string
	fs := flag.NewFlagSet("loadgen child", flag.ContinueOnError)
	fs.IntVar(&o.index, "index", -1, "")
	fs.IntVar(&o.fillers, "fillers", 0, "")
	fs.StringVar(&o.fillerFile, "filler-file", "", "")
	fs.StringVar(&listen, "listen", "", "")
	fs.IntVar(&o.accept, "accept", 0, "")
	fs.StringVar(&connect, "connect", "", "")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.listen, err = splitInts(listen); err != nil {
		return o, fmt.Errorf("-listen: %w", err)
	}
	if o.connect, err = splitInts(connect); err != nil {
		return o, fmt.Errorf("-connect: %w", err)
	}
	return o, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func splitInts(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var v []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", s, err)
		}
		v = append(v, n)
	}
	return v, nil
}
