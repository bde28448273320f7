package render

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/whobinds/whobinds/internal/explain"
	"github.com/whobinds/whobinds/internal/kb"
	"github.com/whobinds/whobinds/internal/model"
)

// Narrative tells the story of each socket: who holds it, why, who can
// reach it. Sockets of one port with the same holders and state (the IPv4
// and IPv6 listeners of one server) are told together.
func Narrative(w io.Writer, snap *model.Snapshot, o Options) error {
	var b strings.Builder
	for i, g := range group(snap.Sockets) {
		if i > 0 {
			b.WriteByte('\n')
		}
		tell(&b, snap, g, o)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// group collects sockets that share protocol, port, state, namespace and
// holders, keeping the snapshot's order.
func group(socks []model.Socket) [][]*model.Socket {
	type key struct {
		proto  model.Proto
		port   uint16
		state  model.State
		netns  uint64
		pids   string
		remote string
		hidden string
	}
	var keys []key
	groups := map[key][]*model.Socket{}
	for i := range socks {
		s := &socks[i]
		k := key{s.Proto, s.Local.Port(), s.State, s.NetNS.Inode, joinInts(pids(s), ","), s.Remote.String(), s.Hidden}
		if len(s.Holders) == 0 {
			k.pids = "inode " + strconv.FormatUint(s.Inode, 10) // never merge ownerless sockets
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	out := make([][]*model.Socket, len(keys))
	for i, k := range keys {
		out[i] = groups[k]
	}
	return out
}

// line writes "  label     text", aligning continuation lines.
func line(b *strings.Builder, label, text string) {
	const indent = "  "
	const width = 10
	for i, l := range strings.Split(text, "\n") {
		if i == 0 {
			fmt.Fprintf(b, "%s%-*s%s\n", indent, width, label, sanitize(l))
		} else {
			fmt.Fprintf(b, "%s%-*s%s\n", indent, width, "", sanitize(l))
		}
	}
}

func tell(b *strings.Builder, snap *model.Snapshot, g []*model.Socket, o Options) {
	s := g[0]
	head := []string{s.Proto.String()}
	for _, m := range g {
		head = append(head, addr(m))
	}
	if s.Remote.IsValid() && s.Remote.Port() != 0 {
		head = append(head, "→ "+s.Remote.String())
	}
	head = append(head, s.State.String())
	if len(snap.Host.Namespaces) > 1 || s.NetNS.Inode != snap.Host.NetNS.Inode {
		head = append(head, "netns "+s.NetNS.Name)
	}
	if o.Color && o.TTY {
		b.WriteString("\x1b[" + bold + "m" + sanitize(strings.Join(head, "  ")) + "\x1b[0m\n")
	} else {
		b.WriteString(sanitize(strings.Join(head, "  ")) + "\n")
	}

	owner(b, snap, s, o)
	for i, a := range s.Attributions {
		if a.Kind == model.AttrStartedBy || a.Kind == model.AttrKernel && len(s.Holders) == 0 {
			continue
		}
		if a.Kind == model.AttrService && a.Ambiguous {
			// The candidates of one process share a line.
			if !firstCandidate(s.Attributions, i) {
				continue
			}
			line(b, "why", candidatesLine(s.Attributions, a.PID))
			if o.Explain && a.Evidence != "" {
				line(b, "", "evidence: "+a.Evidence)
			}
			continue
		}
		line(b, "why", long(a))
		if o.Explain && a.Evidence != "" {
			line(b, "", "evidence: "+a.Evidence)
		}
	}
	if len(s.Holders) > 0 && s.Holders[0].Process != nil {
		if chain := ancestry(s.Holders[0].Process); chain != "" {
			line(b, "started", "by "+chain)
		}
	}
	f := explain.Explain(s, &snap.Host)
	if p := portLine(s, f); p != "" {
		line(b, "port", p)
	}
	if f.Anomaly != "" {
		line(b, "anomaly", f.Anomaly)
	}
	var exps []string
	for _, m := range g {
		if t := explain.ExposureOf(m).Text; !slices.Contains(exps, t) {
			exps = append(exps, t)
		}
	}
	line(b, "exposure", strings.Join(exps, "; "))
	if f.Risk.Level != kb.RiskInfo && f.Risk.Level != "" {
		line(b, "risk", f.Risk.Level+" — "+f.Risk.Text)
	}
	if o.Explain && f.Privileged != "" {
		line(b, "", f.Privileged)
	}
	remedies := f.Remedies
	if !o.Explain && len(remedies) > 2 {
		remedies = remedies[:2]
	}
	for i, r := range remedies {
		label := ""
		if i == 0 {
			label = "free it"
		}
		text := r.Text
		if r.Command != "" {
			text = r.Command + "\n  " + r.Text
		}
		line(b, label, text)
	}
	if f.Never != "" {
		line(b, "never", f.Never)
	}
	if o.Explain {
		details(b, g)
		if len(f.Sources) > 0 {
			line(b, "sources", strings.Join(f.Sources, "\n"))
		}
	}
}

// portLine is "445/tcp microsoft-ds — SMB over TCP: file and printer
// sharing", from what the knowledge base knows.
func portLine(s *model.Socket, f explain.Finding) string {
	t := fmt.Sprintf("%d/%s", s.Local.Port(), s.Proto)
	if f.Service != "" {
		t += " " + f.Service
	}
	switch {
	case f.Title != "" && f.Purpose != "":
		t += " — " + f.Title + "\n" + f.Purpose
	case f.Title != "":
		t += " — " + f.Title
	case f.Service == "":
		return ""
	}
	return t
}

// owner writes who holds the socket, or why nobody visibly does.
func owner(b *strings.Builder, snap *model.Snapshot, s *model.Socket, o Options) {
	if len(s.Holders) == 0 {
		switch {
		case s.Hidden != "":
			text := "hidden — " + s.Hidden
			if o.Hint != "" {
				text += "\nto see it: " + o.Hint
			}
			line(b, "owner", text)
		case len(s.Attributions) > 0 && s.Attributions[0].Kind == model.AttrKernel:
			a := s.Attributions[0]
			line(b, "owner", "no process — "+a.Detail)
			if o.Explain && a.Evidence != "" {
				line(b, "", "evidence: "+a.Evidence)
			}
		default:
			line(b, "owner", "no process found")
		}
		return
	}
	first := s.Holders[0]
	line(b, "owner", describe(first, snap, o))
	if rest := s.Holders[1:]; len(rest) > 0 {
		line(b, "", sharedWith(first, rest))
	}
	if s.Hidden != "" {
		text := "more holders hidden — " + s.Hidden
		if o.Hint != "" {
			text += "\nto see them: " + o.Hint
		}
		line(b, "", text)
	}
}

// describe is "nginx, pid 1201, user root, up 2h13m — /usr/sbin/nginx -g daemon off;".
func describe(h model.Holder, snap *model.Snapshot, o Options) string {
	p := h.Process
	if p == nil {
		return fmt.Sprintf("pid %d (exited before its details could be read)", h.PID)
	}
	parts := []string{displayName(p), "pid " + strconv.Itoa(p.PID)}
	if p.NSPID != 0 {
		parts[1] += " (pid " + strconv.Itoa(p.NSPID) + " in its own PID namespace)"
	}
	parts = append(parts, "user "+userOf(p))
	if !p.Start.IsZero() && !snap.Host.Time.IsZero() {
		parts = append(parts, "up "+duration(snap.Host.Time.Sub(p.Start)))
	}
	text := strings.Join(parts, ", ")
	switch {
	case len(p.Cmdline) > 0:
		text += " — " + quoteArgs(p.Cmdline)
	case p.Exe != "":
		text += " — " + p.Exe
	}
	if p.ExeDeleted {
		text += "\nexecutable " + p.Exe + " was deleted or replaced since the process started"
	}
	if o.Explain && p.Exe != "" {
		text += "\nexe " + p.Exe
	}
	if o.Explain && len(p.Unreadable) > 0 {
		text += "\nunreadable: " + strings.Join(p.Unreadable, "; ")
	}
	return text
}

// sharedWith summarizes the other holders, grouped by name and user:
// "shared with 4 more: nginx (www-data) 1202 1203 1204 1205".
func sharedWith(first model.Holder, rest []model.Holder) string {
	type who struct{ name, user string }
	var order []who
	byWho := map[who][]int{}
	for _, h := range rest {
		k := who{"?", "?"}
		if h.Process != nil {
			k = who{displayName(h.Process), userOf(h.Process)}
		}
		if _, ok := byWho[k]; !ok {
			order = append(order, k)
		}
		byWho[k] = append(byWho[k], h.PID)
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%s (%s) %s", k.name, k.user, joinInts(byWho[k], " ")))
	}
	n := len(rest)
	noun := "process"
	if n > 1 {
		noun = "processes"
	}
	return fmt.Sprintf("shared with %d more %s: %s", n, noun, strings.Join(parts, "; "))
}

// long is the sentence for an attribution on a "why" line.
func long(a model.Attribution) string {
	switch a.Kind {
	case model.AttrUnit:
		if a.Manager != "" && a.Manager != "system" {
			return "systemd user unit " + a.Name + " (" + a.Manager + ")"
		}
		return "systemd unit " + a.Name
	case model.AttrContainer:
		s := short(a)
		if a.ID != "" && a.Name != "" {
			s += ", id " + shortID(a.ID)
		}
		if a.Pod != "" {
			s += ", Kubernetes pod " + a.Pod
		}
		return s
	case model.AttrService:
		if a.Detail != "" {
			return "Windows service " + a.Name + " — " + a.Detail
		}
		return "Windows service " + a.Name
	case model.AttrHTTPSys:
		s := "http.sys URL " + a.Name
		if a.Detail != "" {
			s += " — " + a.Detail
		}
		if a.Ambiguous {
			s += " (uncertain)"
		}
		return s
	}
	if a.Detail != "" {
		if a.Ambiguous {
			return a.Detail + " (uncertain)"
		}
		return a.Detail
	}
	return short(a)
}

// firstCandidate reports whether as[i] is the first ambiguous service of
// its process.
func firstCandidate(as []model.Attribution, i int) bool {
	for _, a := range as[:i] {
		if a.Kind == model.AttrService && a.Ambiguous && a.PID == as[i].PID {
			return false
		}
	}
	return true
}

// candidatesLine is "one of the services A (Display A), B (Display B)"
// with the reason the exact one is unknown.
func candidatesLine(as []model.Attribution, pid int) string {
	var names []string
	why := ""
	for _, a := range as {
		if a.Kind != model.AttrService || !a.Ambiguous || a.PID != pid {
			continue
		}
		n := a.Name
		if a.Detail != "" && a.Detail != a.Name {
			n += " (" + a.Detail + ")"
		}
		names = append(names, n)
		if why == "" {
			why = a.Evidence
		}
	}
	s := "one of the Windows services " + strings.Join(names, ", ")
	if why != "" {
		s += " — " + why
	}
	return s
}

// ancestry is "bash (1234) ← sshd (1000) ← systemd (1)", empty when the
// parent is PID 1 or unknown.
func ancestry(p *model.Process) string {
	if len(p.Ancestors) == 0 {
		return ""
	}
	parts := make([]string, len(p.Ancestors))
	for i, a := range p.Ancestors {
		parts[i] = fmt.Sprintf("%s (%d)", a.Name, a.PID)
	}
	return strings.Join(parts, " ← ")
}

// details are the -e extras: identifiers and every holder's descriptors
// and command line.
func details(b *strings.Builder, g []*model.Socket) {
	for _, s := range g {
		v6 := ""
		switch s.V6Only {
		case model.Yes:
			v6 = ", v6only"
		case model.No:
			v6 = ", dual-stack"
		}
		line(b, "socket", fmt.Sprintf("%s inode %d, created by uid %d, netns %s (%d), queues %d/%d%s",
			addr(s), s.Inode, s.UID, s.NetNS.Name, s.NetNS.Inode, s.RecvQ, s.SendQ, v6))
	}
	for _, h := range g[0].Holders {
		text := fmt.Sprintf("pid %d fd %s", h.PID, joinInts(h.FDs, ","))
		if p := h.Process; p != nil {
			text += " — " + quoteArgs(p.Cmdline)
			if p.Cgroup != "" {
				text += "\ncgroup " + p.Cgroup
			}
		}
		line(b, "holder", text)
	}
}
