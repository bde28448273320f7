package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/whobinds/whobinds/internal/act"
	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/target"
)

// FreeOptions are the flags of `whobinds free`.
type FreeOptions struct {
	IO      *IO
	Args    []string
	Targets []target.Target

	Yes, DryRun, Force, JSON bool
	Timeout                  time.Duration
	// Interactive says whether free may ask before acting: stdout and
	// stdin are terminals. Set by the command; tests set it directly.
	Interactive bool

	// Engine is the engine options.
	Engine engine.Options
	// Settle overrides act.Freer.Settle (tests).
	Settle time.Duration
}

const freeDefaultTimeout = 10 * time.Second

func newFreeCmd(io *IO) *cobra.Command {
	opts := &FreeOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "free PORT [PORT...]",
		Short: "Free a port safely: stop what owns it, end what holds it, check it is free",
		Long: `free plans how to free each port, shows the plan, and on confirmation
carries it out: first it stops what would bring the owner back — the
systemd socket unit and service unit, the Windows service (for http.sys,
the service that registered the URL), the docker or podman container a
forwarder serves — and only then ends the processes that hold the port:
SIGTERM, a wait, and SIGKILL only with --force. Before it signals a
process it makes sure it is still the same process (start time, pidfd),
so a reused PID is never signalled. Then it waits until the port is free
and says so, or who holds it again and who restarted it.

Only processes holding the listening or bound socket on exactly that port
are touched, never the clients of its connections. free refuses to end
PID 0, 1 and 4, kernel threads, kernel sockets, processes of other PID
namespaces and critical Windows processes, and says what to do instead.

PORT is 8080, tcp/8080, udp/53 or an address such as 127.0.0.1:8080.
On a terminal free asks before acting; elsewhere it acts only with --yes.
Exit codes: 0 freed or free already, 1 still held, 2 usage, 3 refused,
not confirmed, or a step failed.`,
		Example: `  whobinds free 8080            show the plan, ask, act, check
  whobinds free --dry-run 80    only show the plan
  whobinds free --yes tcp/3000 tcp/3001
  whobinds free --yes --force --timeout 5s 8080`,
		Args:          usageArgs(cobra.MinimumNArgs(1)),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, args []string) error {
			opts.Args = args
			opts.Interactive = io.TTY && freeIsTerminal(io.In)
			return runFree(c.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Yes, "yes", "y", false, "act without asking")
	f.BoolVar(&opts.DryRun, "dry-run", false, "only show the plan")
	f.BoolVar(&opts.Force, "force", false, "SIGKILL processes still running at the timeout (Windows: allow TerminateProcess)")
	f.DurationVar(&opts.Timeout, "timeout", freeDefaultTimeout, "how long to wait for processes to exit and the port to be free")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON document; never asks")
	return cmd
}

func freeIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (o *FreeOptions) validate() error {
	for _, a := range o.Args {
		t, err := target.Parse(a)
		if err != nil {
			return usageError{err}
		}
		if !t.Single() {
			return usageError{fmt.Errorf("%s is a range: free takes single ports, so that it never sweeps up a neighbour", a)}
		}
		o.Targets = append(o.Targets, t)
	}
	if o.Timeout <= 0 {
		return usageError{fmt.Errorf("--timeout %v: want a positive duration such as 10s", o.Timeout)}
	}
	return nil
}

func runFree(ctx context.Context, o *FreeOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	eng, err := engine.New(o.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	out, errw := o.IO.Out, o.IO.Err
	fr := &act.Freer{Collect: eng.Collect, Timeout: o.Timeout, Force: o.Force, Settle: o.Settle}
	plans, warnings, err := fr.Plan(ctx, o.Targets)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(errw, "whobinds: warning: %s\n", oneLine(w))
	}

	actionable, refused := 0, 0
	for i := range plans {
		switch {
		case plans[i].Refused():
			refused++
		case !plans[i].Free():
			actionable++
		}
	}
	var results []act.FreeResult
	var refusedErr error
	doc := freeDoc{Schema: "whobinds/v1", DryRun: o.DryRun}
	proceed := actionable > 0 && !o.DryRun
	if !o.JSON {
		for i := range plans {
			writeFreePlan(out, &plans[i])
		}
	}
	if proceed && !o.Yes {
		if o.Interactive && !o.JSON {
			proceed = freeConfirm(o.IO, actionable)
			if !proceed {
				return refusedError{"nothing done: not confirmed"}
			}
		} else {
			what := "not a terminal"
			if o.JSON {
				what = "--json never asks"
			}
			refusedErr = refusedError{fmt.Sprintf("nothing done: %s, so free acts only with --yes: %s", what, o.yesCommand())}
			proceed = false
		}
	}
	if proceed {
		if !o.JSON {
			fr.Progress = func(p *act.Plan, r act.StepResult) { writeFreeStepResult(out, p, r) }
		}
		results, err = fr.Free(ctx, plans)
		if err != nil {
			return err
		}
	} else {
		results = make([]act.FreeResult, len(plans))
		for i := range plans {
			results[i] = act.FreeResult{Plan: &plans[i], State: act.Planned, Done: []act.StepResult{}}
			switch {
			case plans[i].Free():
				results[i].State = act.AlreadyFree
			case plans[i].Refused():
				results[i].State = act.Refused
			}
		}
	}

	held := 0
	for i := range results {
		r := &results[i]
		switch r.State {
		case act.StillHeld:
			held++
		case act.Failed:
			refused++
		}
		if o.JSON {
			doc.Ports = append(doc.Ports, freeJSONPort{Plan: r.Plan, State: r.State, Done: r.Done, HeldBy: r.HeldBy, CameBack: r.CameBack, After: r.Notes})
		} else if proceed || r.State == act.AlreadyFree {
			writeFreeResult(out, r)
		}
	}
	if o.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	switch {
	case refusedErr != nil:
		return refusedErr
	case refused > 0:
		return refusedError{freeSummary(results)}
	case held > 0:
		return noMatchError{freeSummary(results)}
	}
	return nil
}

// yesCommand is the command line that acts without asking.
func (o *FreeOptions) yesCommand() string {
	parts := []string{o.IO.Program(), "free", "--yes"}
	if o.Force {
		parts = append(parts, "--force")
	}
	if o.Timeout != freeDefaultTimeout {
		parts = append(parts, "--timeout", o.Timeout.String())
	}
	if o.JSON {
		parts = append(parts, "--json")
	}
	for _, a := range o.Args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// freeSummary is the one line for stderr at a non-zero exit.
func freeSummary(results []act.FreeResult) string {
	var ports []string
	for _, r := range results {
		switch r.State {
		case act.Refused:
			ports = append(ports, r.Plan.Port+" refused, nothing done")
		case act.Failed:
			ports = append(ports, r.Plan.Port+" not freed, a step failed")
		case act.StillHeld:
			ports = append(ports, r.Plan.Port+" still held")
		}
	}
	return strings.Join(ports, "; ")
}

// freeConfirm asks on the terminal whether to carry out the plans.
func freeConfirm(o *IO, n int) bool {
	q := "Carry out this plan? [y/N] "
	if n > 1 {
		q = fmt.Sprintf("Carry out these %d plans? [y/N] ", n)
	}
	fmt.Fprint(o.Err, q)
	line, err := bufio.NewReader(o.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// The JSON document of `whobinds free` (docs/json.md).
type freeDoc struct {
	Schema string         `json:"schema"`
	DryRun bool           `json:"dry_run"`
	Ports  []freeJSONPort `json:"ports"`
}

type freeJSONPort struct {
	*act.Plan
	State    act.FreeState    `json:"state"`
	Done     []act.StepResult `json:"done"`
	HeldBy   []act.HeldSocket `json:"held_by,omitempty"`
	CameBack []act.Comeback   `json:"came_back,omitempty"`
	After    []string         `json:"outcome_notes,omitempty"`
}

const freeIndent = "              "

// writeFreePlan prints one port's plan for people.
func writeFreePlan(w io.Writer, p *act.Plan) {
	if p.Free() {
		return
	}
	fmt.Fprintf(w, "%s\n", p.Port)
	for _, s := range p.Sockets {
		holders := "no process"
		if len(s.Holders) > 0 {
			var hs []string
			for _, h := range s.Holders {
				hs = append(hs, h.String())
			}
			holders = strings.Join(hs, ", ")
		}
		if s.Hidden != "" {
			holders += " (hidden: " + s.Hidden + ")"
		}
		freeLabel(w, "held", fmt.Sprintf("%s %s %s by %s", s.Proto, s.Local, s.State, holders))
	}
	if p.Refused() {
		for _, r := range p.Refusals {
			freeLabel(w, "refused", r.Reason)
			instead := "instead: " + r.Instead
			fmt.Fprintf(w, "%s  %s\n", freeIndent, instead)
			if r.Command != "" {
				fmt.Fprintf(w, "%s    %s\n", freeIndent, r.Command)
			}
		}
		if len(p.Steps) > 0 {
			freeLabel(w, "not done", "because of the refusal above, none of these:")
			writeFreeSteps(w, p.Steps)
		}
	} else {
		freeLabel(w, "plan", "")
		writeFreeSteps(w, p.Steps)
	}
	for i, s := range p.Supervisors {
		l := ""
		if i == 0 {
			l = "comes back"
		}
		freeLabel(w, l, s.Text)
	}
	for i, n := range p.Notes {
		l := ""
		if i == 0 {
			l = "note"
		}
		freeLabel(w, l, n)
	}
}

func writeFreeSteps(w io.Writer, steps []act.Step) {
	for i, s := range steps {
		fmt.Fprintf(w, "%s%d. %s\n", freeIndent, i+1, s.Text)
		if s.Command != "" {
			fmt.Fprintf(w, "%s   %s\n", freeIndent, s.Command)
		}
	}
}

// freeLabel prints "  LABEL       text", the text in one column; an empty
// text prints the label alone.
func freeLabel(w io.Writer, l, text string) {
	line := fmt.Sprintf("  %-12s%s", l, text)
	fmt.Fprintln(w, strings.TrimRight(line, " "))
}

func writeFreeStepResult(w io.Writer, p *act.Plan, r act.StepResult) {
	mark := "done"
	if !r.OK {
		mark = "FAILED"
	}
	fmt.Fprintf(w, "%s: %s: %s\n", p.Port, mark, r.Text)
}

// writeFreeResult prints the outcome for one port.
func writeFreeResult(w io.Writer, r *act.FreeResult) {
	p := r.Plan
	switch r.State {
	case act.AlreadyFree:
		fmt.Fprintf(w, "%s: free already: nothing listens or is bound on it\n", p.Port)
	case act.Freed:
		fmt.Fprintf(w, "%s: freed\n", p.Port)
	case act.Refused:
		fmt.Fprintf(w, "%s: refused: nothing done\n", p.Port)
	case act.Failed:
		fmt.Fprintf(w, "%s: not freed: a step failed, the steps after it were not run\n", p.Port)
	case act.StillHeld:
		var who []string
		for _, c := range r.CameBack {
			who = append(who, c.Text)
		}
		fmt.Fprintf(w, "%s: still held: %s\n", p.Port, strings.Join(who, "; "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "%s: note: %s\n", p.Port, n)
	}
}
