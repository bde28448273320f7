package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/explain"
	"github.com/whobinds/whobinds/internal/kb"
	"github.com/whobinds/whobinds/internal/render"
)

// AuditOptions are the flags of `whobinds audit`.
type AuditOptions struct {
	IO       *IO
	JSON     bool
	FailOn   string
	AllNetNS bool
	Engine   engine.Options
}

func newAuditCmd(io *IO) *cobra.Command {
	opts := &AuditOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Every listener other hosts can reach, how risky it is, and what to do",
		Long: `audit lists every listening socket reachable beyond loopback with a
severity (the port's risk, lowered when the host firewall keeps other hosts
out), the reason, and the ways to close it. Markdown for people, --json for
tools. With --fail-on, the exit code is 1 when a finding is at or above that
severity, for CI.`,
		Example: `  whobinds audit
  whobinds audit --json | jq '.findings[] | select(.severity == "high")'
  whobinds audit --fail-on high`,
		Args:          usageArgs(cobra.NoArgs),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, args []string) error {
			return runAudit(c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.JSON, "json", false, "print one JSON document")
	f.StringVar(&opts.FailOn, "fail-on", "", "exit 1 when a finding is at or above `LEVEL`: low, medium or high")
	f.BoolVar(&opts.AllNetNS, "all-netns", false, "audit every network namespace (needs root)")
	cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions([]string{kb.RiskLow, kb.RiskMedium, kb.RiskHigh}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runAudit(c *cobra.Command, o *AuditOptions) error {
	switch o.FailOn {
	case "", kb.RiskLow, kb.RiskMedium, kb.RiskHigh:
	default:
		return usageError{fmt.Errorf("--fail-on %q: want low, medium or high", o.FailOn)}
	}
	eng, err := engine.New(o.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	snap, err := eng.Collect(c.Context(), engine.Query{AllNetNS: o.AllNetNS})
	if err != nil {
		return err
	}
	for _, w := range snap.Warnings {
		fmt.Fprintf(o.IO.Err, "whobinds: warning: %s\n", oneLine(w))
	}
	info := render.AuditInfo{FailOn: o.FailOn, Firewall: "The host firewall was read: each finding says what it does with new inbound traffic."}
	fw, err := eng.Firewall(c.Context())
	switch {
	case err != nil && fw == nil:
		info.Firewall = "The host firewall could not be read (" + oneLine(err.Error()) + "): findings do not say whether it blocks them."
		fmt.Fprintf(o.IO.Err, "whobinds: warning: reading the firewall: %s\n", oneLine(err.Error()))
	case err != nil:
		info.Firewall = "The host firewall was read in part (" + oneLine(err.Error()) + "): where that matters, findings say unknown."
		fmt.Fprintf(o.IO.Err, "whobinds: warning: reading the firewall: %s\n", oneLine(err.Error()))
	}
	findings := explain.Audit(snap, fw)
	if o.JSON {
		err = render.AuditJSON(o.IO.Out, snap, findings, info)
	} else {
		err = render.AuditMarkdown(o.IO.Out, snap, findings, info)
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if o.FailOn != "" {
		n := 0
		for _, f := range findings {
			if explain.SeverityRank(f.Severity) >= explain.SeverityRank(o.FailOn) {
				n++
			}
		}
		if n > 0 {
			return noMatchError{fmt.Sprintf("%d findings at or above %s (--fail-on)", n, o.FailOn)}
		}
	}
	return nil
}
