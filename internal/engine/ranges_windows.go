package engine

import (
	"context"
	"errors"
	"slices"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/windows/portrange"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

// maxRangePorts bounds how many asked-about ports are checked against the
// excluded and dynamic ranges: the check is for "why can't I bind port
// P", not for scans of whole ranges.
const maxRangePorts = 64

// portRanges records the excluded and dynamic port ranges that cover the
// ports the targets name, when nothing holds them: a port in an excluded
// range has no owner and still cannot be bound.
func (w *windowsSource) portRanges(ctx context.Context, q Query, h *model.Host) {
	type want struct {
		proto model.Proto
		port  int
	}
	var wants []want
	for _, t := range q.Targets {
		if int(t.Hi)-int(t.Lo) >= maxRangePorts {
			continue
		}
		for p := int(t.Lo); p <= int(t.Hi); p++ {
			for _, pr := range []model.Proto{model.TCP, model.UDP} {
				if t.Proto == 0 || t.Proto == pr {
					wants = append(wants, want{pr, p})
				}
			}
		}
	}
	if len(wants) == 0 {
		return
	}
	for _, sp := range q.specs() {
		var ports []int
		for _, wt := range wants {
			if wt.proto == sp.proto {
				ports = append(ports, wt.port)
			}
		}
		if len(ports) == 0 {
			continue
		}
		ex, err := portrange.Excluded(ctx, sp.proto, sp.family)
		switch {
		case errors.Is(err, portrange.ErrNoOutput):
			h.PortRangesUnknown = "netsh printed no excluded port ranges"
			if wine.Detected() {
				h.PortRangesUnknown += " (Wine's netsh is a stub)"
			}
		case err != nil:
			w.warn("reading the excluded port ranges: %v", err)
		}
		for _, r := range ex {
			i := slices.IndexFunc(ports, r.Contains)
			if i < 0 {
				continue
			}
			kind := model.RangeExcluded
			if r.Administered {
				kind = model.RangeAdministered
			}
			h.PortRanges = append(h.PortRanges, model.PortRange{
				Kind: kind, Proto: sp.proto, Family: sp.family, First: r.First, Last: r.Last,
				Owner: portrange.LikelyOwner(r), Fixes: portrange.Fixes(r, ports[i]),
			})
		}
		dyn, err := portrange.Dynamic(ctx, sp.proto, sp.family)
		if err != nil {
			if !errors.Is(err, portrange.ErrNoOutput) {
				w.warn("reading the dynamic port range: %v", err)
			}
			continue
		}
		if slices.ContainsFunc(ports, dyn.Contains) {
			h.PortRanges = append(h.PortRanges, model.PortRange{
				Kind: model.RangeDynamic, Proto: sp.proto, Family: sp.family, First: dyn.First, Last: dyn.Last,
				Owner: "Windows' pool of ephemeral ports for outgoing connections",
			})
		}
	}
}
