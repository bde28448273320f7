package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whobinds/whobinds/internal/explain"
	"github.com/whobinds/whobinds/internal/kb"
	"github.com/whobinds/whobinds/internal/render"
)

// PortOptions are the flags of `whobinds port`.
type PortOptions struct {
	IO   *IO
	Args []string
	OS   string
	JSON bool
}

func newPortCmd(io *IO) *cobra.Command {
	opts := &PortOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "port PORT[/PROTO]|NAME...",
		Short: "What a port is for, who normally holds it, and how to close it",
		Long: `port tells what whobinds knows about a port without looking at this
host: its IANA registration, what normally listens there on Linux, Windows
and macOS, the risk of exposing it, and how to stop, disable or restrict
what holds it. A port may be given by number (445, 445/tcp, udp/53) or by
service name (winrm, smb, https).`,
		Example: `  whobinds port 445
  whobinds port 5985/tcp --os windows
  whobinds port winrm
  whobinds port --json 6379`,
		Args:          usageArgs(cobra.MinimumNArgs(1)),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, args []string) error {
			opts.Args = args
			return runPort(opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.OS, "os", "", "only this system's owners and remedies: `linux`, windows, darwin, freebsd")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON document")
	cmd.RegisterFlagCompletionFunc("os", cobra.FixedCompletions([]string{kb.Linux, kb.Windows, kb.Darwin, kb.FreeBSD}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// portQuery is one argument of `whobinds port`: a port with an optional
// protocol, or a service name.
type portQuery struct {
	proto string // "" for both
	port  uint16
	name  string
}

// parsePortArg reads 445, 445/tcp, tcp/445 or a service name.
func parsePortArg(s string) (portQuery, error) {
	a, b, slash := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "/")
	var q portQuery
	num := a
	if slash {
		switch {
		case a == "tcp" || a == "udp":
			q.proto, num = a, b
		case b == "tcp" || b == "udp":
			q.proto = b
		default:
			return q, fmt.Errorf("%q: want PORT/tcp or PORT/udp", s)
		}
	}
	if num != "" && strings.Trim(num, "0123456789") == "" {
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil || n > 65535 {
			return q, fmt.Errorf("port %s is out of range (want 1-65535)", num)
		}
		if n == 0 {
			return q, errors.New("port 0 is not a port anyone can hold (want 1-65535)")
		}
		q.port = uint16(n)
		return q, nil
	}
	if slash || num == "" || strings.ContainsAny(num, " \t:") {
		return q, fmt.Errorf("%q is neither a port nor a service name", s)
	}
	q.name = num
	return q, nil
}

func runPort(o *PortOptions) error {
	switch o.OS {
	case "", kb.Linux, kb.Windows, kb.Darwin, kb.FreeBSD:
	default:
		return usageError{fmt.Errorf("--os %q: want linux, windows, darwin or freebsd", o.OS)}
	}
	var ks []explain.Knowledge
	seen := map[kb.ProtoPort]bool{}
	add := func(proto string, port uint16) {
		pp := kb.ProtoPort{Proto: proto, Port: port}
		if seen[pp] {
			return
		}
		seen[pp] = true
		if k := explain.KnowledgeOf(proto, port); k.Known() {
			ks = append(ks, k)
		}
	}
	for _, a := range o.Args {
		q, err := parsePortArg(a)
		if err != nil {
			return usageError{err}
		}
		if q.name != "" {
			pps := kb.PortsNamed(q.name)
			if len(pps) == 0 {
				msg := fmt.Sprintf("unknown service %q", q.name)
				if s := kb.Suggest(q.name, 3); len(s) > 0 {
					msg += ": did you mean " + strings.Join(s, ", ") + "?"
				}
				return usageError{errors.New(msg)}
			}
			for _, pp := range pps {
				add(pp.Proto, pp.Port)
			}
			continue
		}
		for _, proto := range []string{"tcp", "udp"} {
			if q.proto == "" || q.proto == proto {
				add(proto, q.port)
			}
		}
	}
	var err error
	if o.JSON {
		err = render.KnowledgeJSON(o.IO.Out, ks)
	} else {
		err = render.Knowledge(o.IO.Out, ks, o.OS)
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if len(ks) == 0 {
		return noMatchError{"nothing is known about " + strings.Join(o.Args, ", ") + " (neither curated nor registered with IANA)"}
	}
	return nil
}
