package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/explain"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/render"
	"github.com/whobinds/whobinds/internal/target"
)

// ListOptions are the flags of the root command, which lists sockets.
type ListOptions struct {
	IO      *IO
	Args    []string
	Targets []target.Target

	TCP, UDP, IPv4, IPv6 bool
	All                  bool
	AllNetNS             bool
	PIDs                 []int
	Users                []string
	JSON, CSV            bool
	Output               string
	NoColor              bool
	Explain              bool

	// Engine is the engine options; tests point them at fixture roots.
	Engine engine.Options
}

func newRootCmd(io *IO) *cobra.Command {
	opts := &ListOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "whobinds [flags] [TARGET...]",
		Short: "Who holds this port, why is it there, and how to free it",
		Long: `whobinds shows every listening TCP socket and bound UDP socket with every
process that holds it, and why it is there: the systemd unit, the socket
activation, the container, the port forwarder, or the kernel device.

TARGET is a port (80, :80), a range (8000-8100), an address (127.0.0.1:8080,
[::1]:80), each optionally prefixed by a protocol (tcp/80, udp/53). With one
port, whobinds tells the whole story of it; with several, it prints a table.`,
		Example: `  whobinds                 every listener and its owners
  whobinds 80              who holds port 80, and why
  whobinds -a tcp/5432     every socket on TCP port 5432, connections too
  whobinds --all-netns     listeners in every network namespace (containers)
  whobinds --json 8000-8100 | jq '.sockets[].holders[].pid'`,
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Args = args
			return runList(c, opts)
		},
	}
	cmd.SetOut(io.Out)
	cmd.SetErr(io.Err)
	cmd.SetFlagErrorFunc(flagErrors)
	f := cmd.Flags()
	f.SortFlags = false
	f.BoolVarP(&opts.TCP, "tcp", "t", false, "TCP sockets only")
	f.BoolVarP(&opts.UDP, "udp", "u", false, "UDP sockets only")
	f.BoolVarP(&opts.IPv4, "ipv4", "4", false, "IPv4 sockets only")
	f.BoolVarP(&opts.IPv6, "ipv6", "6", false, "IPv6 sockets only")
	f.BoolVarP(&opts.All, "all", "a", false, "every state, not only listening TCP and bound UDP sockets")
	f.BoolVar(&opts.AllNetNS, "all-netns", false, "look in every network namespace (needs root)")
	f.IntSliceVar(&opts.PIDs, "pid", nil, "only sockets held by these `PID`s")
	f.StringSliceVar(&opts.Users, "user", nil, "only sockets held by these `USER`s (names or UIDs)")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON document (schema whobinds/v1, see docs/json.md)")
	f.BoolVar(&opts.CSV, "csv", false, "print CSV with a header row")
	f.StringVarP(&opts.Output, "output", "o", "", "`wide`: add inode, socket UID, queues and command line")
	f.BoolVar(&opts.NoColor, "no-color", false, "no colour (also when NO_COLOR is set)")
	f.BoolVarP(&opts.Explain, "explain", "e", false, "tell the full story of every socket, with evidence")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"wide"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cmd.AddCommand(newCompletionCmd(io), newPortCmd(io), newAuditCmd(io), newRPCCmd(io), newCheckCmd(io), newWaitCmd(io), newFreeCmd(io), newProbeCmd(io))
	return cmd
}

func (o *ListOptions) validate() error {
	for _, a := range o.Args {
		t, err := target.Parse(a)
		if err != nil {
			return usageError{err}
		}
		o.Targets = append(o.Targets, t)
	}
	if o.JSON && o.CSV {
		return usageError{errors.New("--json and --csv exclude each other")}
	}
	if o.Output != "" && o.Output != "wide" {
		return usageError{fmt.Errorf("unknown output format %q: the only one is -o wide", o.Output)}
	}
	for _, p := range o.PIDs {
		if p <= 0 {
			return usageError{fmt.Errorf("--pid %d: PIDs are positive numbers", p)}
		}
	}
	for _, u := range o.Users {
		if u == "" {
			return usageError{errors.New("--user needs a user name or UID")}
		}
	}
	return nil
}

func (o *ListOptions) query() engine.Query {
	return engine.Query{
		TCP: o.TCP, UDP: o.UDP, IPv4: o.IPv4, IPv6: o.IPv6,
		AllStates: o.All, Targets: o.Targets, AllNetNS: o.AllNetNS,
		PIDs: o.PIDs, Users: o.Users,
	}
}

func runList(c *cobra.Command, o *ListOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	eng, err := engine.New(o.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	q := o.query()
	snap, err := eng.Collect(c.Context(), q)
	if err != nil {
		return err
	}
	io := o.IO
	if o.AllNetNS && snap.Host.OS == "windows" {
		fmt.Fprintln(io.Err, "whobinds: warning: --all-netns is not applicable on Windows, which has no network namespaces; listing the host's sockets")
	}
	for _, w := range snap.Warnings {
		fmt.Fprintf(io.Err, "whobinds: warning: %s\n", oneLine(w))
	}
	ro := render.Options{
		TTY: io.TTY, Color: io.Color && !o.NoColor, Width: io.Width,
		Wide: o.Output == "wide", Remote: o.All, NetNS: o.AllNetNS, Explain: o.Explain,
		Hint: o.hint(snap),
	}
	switch {
	case o.JSON:
		err = render.JSON(io.Out, snap, o.jsonQuery(), ro)
	case o.CSV:
		err = render.CSV(io.Out, snap.Sockets)
	case len(snap.Sockets) == 0:
	case o.Explain || (len(o.Targets) == 1 && o.Targets[0].Single()):
		err = render.Narrative(io.Out, snap, ro)
	default:
		err = render.Table(io.Out, snap.Sockets, ro)
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if h := snap.Hidden; h.Sockets > 0 {
		what, them := "the owner of 1 socket is hidden", "it"
		if h.Sockets > 1 {
			what, them = fmt.Sprintf("the owners of %d sockets are hidden", h.Sockets), "them"
		}
		if ro.Hint != "" {
			fmt.Fprintf(io.Err, "whobinds: %s (%s); to see %s: %s\n", what, h.Reason, them, ro.Hint)
		} else {
			fmt.Fprintf(io.Err, "whobinds: %s: %s\n", what, h.Reason)
		}
	}
	if len(snap.Sockets) == 0 {
		return noMatchError{o.nothing(c, eng, snap)}
	}
	return nil
}

// hint is the exact command that shows hidden owners, when root would.
func (o *ListOptions) hint(snap *model.Snapshot) string {
	if !snap.Hidden.NeedsRoot {
		return ""
	}
	parts := []string{"sudo", o.IO.Program()}
	if snap.Host.OS == "windows" {
		parts = []string{"an elevated prompt (Run as administrator):", o.IO.Program()}
	}
	for _, a := range o.rawArgs() {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// rawArgs reconstructs the command line from the options, so the hint
// repeats exactly what was asked.
func (o *ListOptions) rawArgs() []string {
	var a []string
	flag := func(on bool, s string) {
		if on {
			a = append(a, s)
		}
	}
	flag(o.TCP, "-t")
	flag(o.UDP, "-u")
	flag(o.IPv4, "-4")
	flag(o.IPv6, "-6")
	flag(o.All, "-a")
	flag(o.AllNetNS, "--all-netns")
	for _, p := range o.PIDs {
		a = append(a, "--pid", strconv.Itoa(p))
	}
	for _, u := range o.Users {
		a = append(a, "--user", u)
	}
	flag(o.JSON, "--json")
	flag(o.CSV, "--csv")
	if o.Output != "" {
		a = append(a, "-o", o.Output)
	}
	flag(o.Explain, "-e")
	return append(a, o.Args...)
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (o *ListOptions) jsonQuery() render.Query {
	q := render.Query{AllStates: o.All, AllNetNS: o.AllNetNS, PIDs: o.PIDs, Users: o.Users}
	for _, t := range o.Targets {
		q.Targets = append(q.Targets, t.String())
	}
	if o.TCP || !o.UDP {
		q.Protocols = append(q.Protocols, "tcp")
	}
	if o.UDP || !o.TCP {
		q.Protocols = append(q.Protocols, "udp")
	}
	if o.IPv4 || !o.IPv6 {
		q.Families = append(q.Families, 4)
	}
	if o.IPv6 || !o.IPv4 {
		q.Families = append(q.Families, 6)
	}
	return q
}

// nothing says what matched nothing, and where else to look.
func (o *ListOptions) nothing(c *cobra.Command, eng *engine.Engine, snap *model.Snapshot) string {
	tcp, udp := o.TCP || !o.UDP, o.UDP || !o.TCP
	if len(o.Targets) > 0 {
		// tcp/80 asks about TCP only, whatever the flags say.
		tcpT, udpT := false, false
		for _, t := range o.Targets {
			tcpT = tcpT || t.Proto != model.UDP
			udpT = udpT || t.Proto != model.TCP
		}
		tcp, udp = tcp && tcpT, udp && udpT
	}
	what := "listening TCP or bound UDP socket"
	switch {
	case o.All:
		what = "socket"
	case tcp && !udp:
		what = "listening TCP socket"
	case udp && !tcp:
		what = "bound UDP socket"
	}
	var where []string
	for _, t := range o.Targets {
		where = append(where, t.String())
	}
	msg := "no " + what
	if len(where) > 0 {
		msg += " on " + strings.Join(where, ", ")
	}
	if len(o.PIDs) > 0 || len(o.Users) > 0 {
		msg += " held by the given --pid/--user"
	}
	switch {
	case snap.Host.OS == "windows":
	case o.AllNetNS:
		msg += " in any network namespace"
	default:
		msg += " in network namespace " + snap.Host.NetNS.Name + " (--all-netns looks in all)"
	}
	if !o.All && len(o.Targets) > 0 {
		q := o.query()
		q.AllStates = true
		q.SocketsOnly = true
		if more, err := eng.Collect(c.Context(), q); err == nil && len(more.Sockets) > 0 {
			msg += fmt.Sprintf("; %d other sockets use it (connections, TIME-WAIT): whobinds -a %s", len(more.Sockets), strings.Join(o.Args, " "))
		}
	}
	for _, t := range o.Targets {
		if t.Single() {
			for _, n := range explain.RangeNotes(&snap.Host, t.Proto, int(t.Lo)) {
				msg += "\n" + n
			}
		}
	}
	return msg
}
