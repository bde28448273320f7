package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/whobinds/whobinds/internal/explain"
	"github.com/whobinds/whobinds/internal/kb"
	"github.com/whobinds/whobinds/internal/model"
)

// AuditInfo says what the audit could see of the firewall.
type AuditInfo struct {
	// Firewall says whether the host firewall was read, and if not why
	// ("needs root", "not supported on windows yet").
	Firewall string
	// FailOn is the --fail-on level, empty for none.
	FailOn string
}

// AuditMarkdown writes the audit for people: a summary, a table, and
// what to do about each finding.
func AuditMarkdown(w io.Writer, snap *model.Snapshot, fs []explain.AuditFinding, info AuditInfo) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# whobinds audit of %s\n\n", mdEscape(snap.Host.Hostname))
	fmt.Fprintf(&b, "%s. %s\n\n", auditSummary(fs), info.Firewall)
	if len(fs) == 0 {
		b.WriteString("No listener is reachable from other hosts.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("| severity | socket | held by | why it matters | firewall |\n|---|---|---|---|---|\n")
	for _, f := range fs {
		fmt.Fprintf(&b, "| %s | %s %s | %s | %s | %s |\n", f.Severity, f.Socket.Proto, mdEscape(addr(f.Socket)),
			mdEscape(holderText(f.Socket)), mdEscape(f.Reason), mdEscape(firewallText(f.Firewall)))
	}
	b.WriteString("\n## What to do\n")
	for _, f := range fs {
		fmt.Fprintf(&b, "\n### %s %s (%s)\n\n", f.Socket.Proto, mdEscape(addr(f.Socket)), f.Severity)
		if f.Finding.Title != "" {
			fmt.Fprintf(&b, "%s.", mdEscape(f.Finding.Title))
			if f.Finding.Purpose != "" {
				fmt.Fprintf(&b, " %s", mdEscape(f.Finding.Purpose))
			}
			b.WriteString("\n\n")
		}
		if len(f.Finding.Remedies) == 0 {
			b.WriteString("- nothing whobinds can recommend; find out what this program is for\n")
		}
		for _, r := range f.Finding.Remedies {
			if r.Command != "" {
				fmt.Fprintf(&b, "- %s: `%s`\n", mdEscape(r.Text), strings.ReplaceAll(r.Command, "`", "'"))
			} else {
				fmt.Fprintf(&b, "- %s\n", mdEscape(r.Text))
			}
		}
		if f.Finding.Never != "" {
			fmt.Fprintf(&b, "- **%s**\n", mdEscape(f.Finding.Never))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func auditSummary(fs []explain.AuditFinding) string {
	count := map[string]int{}
	for _, f := range fs {
		count[f.Severity]++
	}
	noun := "listeners are"
	if len(fs) == 1 {
		noun = "listener is"
	}
	s := fmt.Sprintf("%d %s reachable beyond loopback", len(fs), noun)
	var parts []string
	for _, l := range []string{kb.RiskHigh, kb.RiskMedium, kb.RiskLow, kb.RiskInfo} {
		if count[l] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[l], l))
		}
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func holderText(s *model.Socket) string {
	if len(s.Holders) == 0 {
		if s.Hidden != "" {
			return "hidden: " + s.Hidden
		}
		if len(s.Attributions) > 0 {
			return short(s.Attributions[0])
		}
		return "no process"
	}
	h := s.Holders[0]
	t := fmt.Sprintf("pid %d", h.PID)
	if h.Process != nil {
		t = fmt.Sprintf("%s (pid %d)", displayName(h.Process), h.PID)
	}
	if n := len(s.Holders) - 1; n > 0 {
		t += fmt.Sprintf(" and %d more", n)
	}
	if w := why(s); w != "" {
		t += ", " + w
	}
	return t
}

func firewallText(v *model.FirewallVerdict) string {
	if v == nil {
		return "not checked"
	}
	t := v.Verdict
	if v.Rule != "" {
		t += " by " + v.Rule
	}
	if v.Reason != "" {
		t += " (" + v.Reason + ")"
	}
	return t
}

// mdEscape keeps a value from breaking a Markdown table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "`", "'").Replace(sanitize(s))
}

type jsonAuditFinding struct {
	Severity       string        `json:"severity"`
	Reason         string        `json:"reason"`
	Socket         jsonSocket    `json:"socket"`
	Firewall       *jsonFirewall `json:"firewall"`
	Recommendation *jsonRemedy   `json:"recommendation"`
}

type jsonFirewall struct {
	Verdict string `json:"verdict"`
	Rule    string `json:"rule"`
	Source  string `json:"source"`
	Reason  string `json:"reason"`
}

// AuditJSON writes the audit as one whobinds/v1 document.
func AuditJSON(w io.Writer, snap *model.Snapshot, fs []explain.AuditFinding, info AuditInfo) error {
	doc := struct {
		Schema   string             `json:"schema"`
		Host     jsonHost           `json:"host"`
		Summary  map[string]int     `json:"summary"`
		Firewall string             `json:"firewall"`
		FailOn   string             `json:"fail_on,omitempty"`
		Findings []jsonAuditFinding `json:"findings"`
		Warnings []string           `json:"warnings"`
	}{
		Schema: Schema, Host: hostJSON(&snap.Host), Firewall: info.Firewall, FailOn: info.FailOn,
		Summary:  map[string]int{kb.RiskHigh: 0, kb.RiskMedium: 0, kb.RiskLow: 0, kb.RiskInfo: 0},
		Findings: []jsonAuditFinding{}, Warnings: snap.Warnings,
	}
	if doc.Warnings == nil {
		doc.Warnings = []string{}
	}
	procs := map[*model.Process]*jsonProcess{}
	for _, f := range fs {
		doc.Summary[f.Severity]++
		js := socketJSON(f.Socket, procs)
		js.Explanation = explanationJSON(f.Finding)
		jf := jsonAuditFinding{Severity: f.Severity, Reason: f.Reason, Socket: js}
		if v := f.Firewall; v != nil {
			jf.Firewall = &jsonFirewall{v.Verdict, v.Rule, v.Source, v.Reason}
		}
		if len(f.Finding.Remedies) > 0 {
			r := jsonRemedy(f.Finding.Remedies[0])
			jf.Recommendation = &r
		}
		doc.Findings = append(doc.Findings, jf)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}
