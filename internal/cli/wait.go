package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/whobinds/whobinds/internal/act"
	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
)

// WaitOptions are the flags of `whobinds wait`.
type WaitOptions struct {
	IO              *IO
	Arg             string
	Listening, Free bool
	Timeout         time.Duration
	Interval        time.Duration
	TCP, UDP        bool
	Addr            string
	// Engine is the engine options; tests point them at fixture roots.
	Engine engine.Options
}

func newWaitCmd(io *IO) *cobra.Command {
	opts := &WaitOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "wait PORT --listening|--free",
		Short: "Wait until a port is listening or free, for scripts and CI",
		Long: `wait polls this host's socket table for one port (cheaply: no process walk)
until something listens on it (--listening) or nothing does (--free), then
exits 0 and prints one line. When --timeout passes first it exits 1 and says
on stderr what was still the case, naming the holders. A TCP listener or a
bound UDP socket counts as listening; a wildcard listener (0.0.0.0, [::])
serves every --addr. TIME-WAIT leftovers and connections do not count:
whobinds check says whether a server could bind the port.

PORT may carry a protocol and an address: tcp/8080, udp/53, 127.0.0.1:8080.
TCP is watched unless --udp (or udp/) says otherwise; with --tcp --udp,
either protocol listening is enough, and --free needs both free.

Exit codes: 0 the condition holds, 1 timed out, 2 usage error, 4 the system
could not be asked.`,
		Example: `  ./server & whobinds wait 8080 --listening --timeout 10s && curl localhost:8080
  kill $pid; whobinds wait 8080 --free
  whobinds wait udp/53 --listening --addr 127.0.0.1`,
		Args:          usageArgs(cobra.ExactArgs(1)),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, args []string) error {
			opts.Arg = args[0]
			return runWait(c.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Listening, "listening", false, "wait until something listens on the port")
	f.BoolVar(&opts.Free, "free", false, "wait until nothing listens on the port")
	f.DurationVar(&opts.Timeout, "timeout", 30*time.Second, "give up after this long; 0 waits for ever")
	f.DurationVar(&opts.Interval, "interval", act.DefaultWaitInterval, "pause between two looks at the socket table")
	f.BoolVarP(&opts.TCP, "tcp", "t", false, "watch TCP (the default)")
	f.BoolVarP(&opts.UDP, "udp", "u", false, "watch UDP")
	f.StringVar(&opts.Addr, "addr", "", "only sockets that serve this local `ADDRESS`")
	return cmd
}

// minWaitInterval keeps a script from turning wait into a busy loop.
const minWaitInterval = 10 * time.Millisecond

func runWait(ctx context.Context, o *WaitOptions) error {
	var until act.WaitUntil
	switch {
	case o.Listening && o.Free:
		return usageError{errors.New("--listening and --free exclude each other: give one")}
	case o.Listening:
		until = act.UntilListening
	case o.Free:
		until = act.UntilFree
	default:
		return usageError{errors.New("say what to wait for: --listening or --free")}
	}
	if o.Timeout < 0 {
		return usageError{fmt.Errorf("--timeout %v: want a positive duration such as 30s, or 0 to wait for ever", o.Timeout)}
	}
	if o.Interval < minWaitInterval {
		return usageError{fmt.Errorf("--interval %v: want at least %v", o.Interval, minWaitInterval)}
	}
	t, protos, err := parseOnePort(o.Arg, o.Addr, o.TCP, o.UDP)
	if err != nil {
		return usageError{err}
	}
	if len(protos) == 1 {
		t.Proto = protos[0]
	} else {
		t.Proto = 0
	}
	eng, err := engine.New(o.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	res, err := act.Wait(ctx, act.WaitRequest{Target: t, Until: until, Timeout: o.Timeout, Interval: o.Interval, Collect: eng.Collect})
	if err != nil {
		return err
	}
	what := waitTarget(t)
	if res.Met {
		if until == act.UntilListening {
			fmt.Fprintf(o.IO.Out, "%s is listening: %s\n", what, waitListeners(res.Sockets))
		} else {
			fmt.Fprintf(o.IO.Out, "%s is free\n", what)
		}
		return nil
	}
	if until == act.UntilListening {
		return noMatchError{fmt.Sprintf("nothing listens on %s after %v", what, o.Timeout)}
	}
	return noMatchError{fmt.Sprintf("%s is still listening after %v: %s", what, o.Timeout, waitListeners(res.Sockets))}
}

// waitTarget names what is watched: "tcp/8080", "tcp and udp 127.0.0.1:53".
func waitTarget(t target.Target) string {
	if t.Proto != 0 {
		return t.String()
	}
	t.Proto = model.TCP
	return "tcp and udp " + strings.TrimPrefix(t.String(), "tcp/")
}

// waitListeners is "127.0.0.1:8080 (python3, pid 812), [::]:8080".
func waitListeners(socks []model.Socket) string {
	var out []string
	for _, s := range socks {
		w := bindAddrLabel(s.Local.Addr()) + ":" + fmt.Sprint(s.Local.Port())
		if s.Proto == model.UDP {
			w = "udp " + w
		}
		var who []string
		for _, h := range s.Holders {
			if h.Process != nil && h.Process.Name != "" {
				who = append(who, fmt.Sprintf("%s, pid %d", checkPrintable(h.Process.Name), h.PID))
			} else {
				who = append(who, fmt.Sprintf("pid %d", h.PID))
			}
		}
		if len(who) == 0 && s.Hidden != "" {
			who = append(who, "owner hidden: "+s.Hidden)
		}
		if len(who) > 0 {
			w += " (" + strings.Join(who, "; ") + ")"
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return "no socket could be named"
	}
	return strings.Join(out, ", ")
}
