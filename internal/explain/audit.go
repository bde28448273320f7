package explain

import (
	"fmt"
	"slices"

	"github.com/whobinds/whobinds/internal/kb"
	"github.com/whobinds/whobinds/internal/model"
)

// AuditFinding is one listener that hosts other than this one can reach.
type AuditFinding struct {
	Socket  *model.Socket
	Finding Finding
	// Severity is a kb risk level: the port's risk, or info when the
	// firewall keeps other hosts out.
	Severity string
	// Reason says why the finding matters, in a sentence.
	Reason string
	// Firewall is what the host firewall does with new inbound traffic;
	// nil when the firewall was not consulted.
	Firewall *model.FirewallVerdict
}

// SeverityRank orders risk levels: info 0 ... high 3; unknown levels -1.
func SeverityRank(level string) int {
	return slices.Index([]string{kb.RiskInfo, kb.RiskLow, kb.RiskMedium, kb.RiskHigh}, level)
}

// Audit lists every listening socket reachable beyond loopback with its
// severity, most severe first. firewall, when not nil, says what the host
// firewall does with inbound traffic to a socket.
func Audit(snap *model.Snapshot, firewall func(*model.Socket) model.FirewallVerdict) []AuditFinding {
	var out []AuditFinding
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if !s.IsListener() {
			continue
		}
		f := Explain(s, &snap.Host)
		if f.Exposure.Scope == ScopeLoopback {
			continue
		}
		a := AuditFinding{Socket: s, Finding: f, Severity: f.Risk.Level}
		what := fmt.Sprintf("%s/%d", s.Proto, s.Local.Port())
		if f.Service != "" {
			what += " (" + f.Service + ")"
		}
		a.Reason = fmt.Sprintf("%s is reachable on %s: %s", what, f.Exposure.Text, f.Risk.Text)
		if f.Anomaly != "" {
			a.Reason += "; " + f.Anomaly
			if SeverityRank(a.Severity) < SeverityRank(kb.RiskMedium) {
				a.Severity = kb.RiskMedium
			}
		}
		if firewall != nil {
			v := firewall(s)
			a.Firewall = &v
			if v.Verdict == "drop" || v.Verdict == "reject" {
				a.Severity = kb.RiskInfo
				a.Reason = fmt.Sprintf("%s listens on %s, but the firewall %ss new inbound traffic", what, f.Exposure.Text, v.Verdict)
			}
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b AuditFinding) int {
		return SeverityRank(b.Severity) - SeverityRank(a.Severity)
	})
	return out
}
