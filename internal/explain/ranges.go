package explain

import (
	"fmt"
	"strings"

	"github.com/whobinds/whobinds/internal/model"
)

// RangeNotes explains why a port that nothing holds may still be unusable
// or taken at any moment: the reserved (excluded) and dynamic port ranges
// of the host that cover it. proto 0 means both protocols. Each note is
// one sentence for people, fixes included.
func RangeNotes(h *model.Host, proto model.Proto, port int) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range h.PortRanges {
		if !r.Contains(port) || (proto != 0 && r.Proto != proto) {
			continue
		}
		where := fmt.Sprintf("%s/%d lies in the IPv%d ", r.Proto, port, r.Family)
		span := fmt.Sprintf("%d-%d", r.First, r.Last)
		var n string
		switch r.Kind {
		case model.RangeExcluded:
			n = where + "excluded port range " + span + ", reserved by " + r.Owner +
				": nothing holds it, yet binding it fails with WSAEACCES (10013, \"access forbidden\")"
		case model.RangeAdministered:
			n = where + "administered port exclusion " + span + " (" + r.Owner +
				"): Windows never hands it out as an ephemeral port; an explicit bind still works"
		case model.RangeDynamic:
			n = where + "dynamic port range " + span + ", " + r.Owner +
				": a client connection may take it at any moment; servers are safer outside it"
		default:
			continue
		}
		if len(r.Fixes) > 0 {
			n += ". Fixes: " + strings.Join(r.Fixes, "; ")
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 && h.PortRangesUnknown != "" {
		out = append(out, fmt.Sprintf("whether port %d lies in an excluded port range is unknown: %s", port, h.PortRangesUnknown))
	}
	return out
}
