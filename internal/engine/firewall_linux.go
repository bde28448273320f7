package engine

import (
	"context"
	"strings"

	"github.com/whobinds/whobinds/internal/linux/firewall"
	"github.com/whobinds/whobinds/internal/model"
)

// readFirewall reads the firewall of our network namespace once. The
// Firewall it returns is usable even with an error: what could not be read
// evaluates to "unknown" with the reason, and a drop elsewhere still
// decides. Sockets of other namespaces were not judged by this firewall.
func readFirewall(ctx context.Context, ours uint64) (Firewall, error) {
	rs, err := firewall.Read(ctx)
	if rs == nil {
		return nil, err
	}
	return func(s *model.Socket) model.FirewallVerdict {
		if s.NetNS.Inode != 0 && ours != 0 && s.NetNS.Inode != ours {
			return model.FirewallVerdict{Verdict: "unknown", Reason: "the socket is in network namespace " + s.NetNS.Name + ", whose firewall was not read"}
		}
		d := rs.Evaluate(firewall.Packet{Proto: s.Proto, Dst: s.Local.Addr(), DstPort: s.Local.Port()})
		v := model.FirewallVerdict{Verdict: d.Verdict.String(), Rule: d.Rule, Source: d.Source, Reason: d.Reason}
		if len(d.Exceptions) > 0 {
			v.Reason += "; except " + strings.Join(d.Exceptions, "; ")
		}
		return v
	}, err
}
