// Package render turns a snapshot into bytes: an aligned table for a
// terminal, tab-separated text for a pipe, CSV, JSON (schema whobinds/v1,
// documented in docs/json.md), and the narrative for one port. It is pure:
// no OS calls; even the current time comes from the snapshot.
package render

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whobinds/whobinds/internal/model"
)

// Options control presentation. They never change content: a terminal gets
// alignment, truncation and colour; a pipe gets every byte.
type Options struct {
	// TTY aligns columns and truncates the last ones to Width.
	TTY bool
	// Color adds ANSI colour (TTY only; the caller honours NO_COLOR).
	Color bool
	// Width is the terminal width; 0 means unlimited.
	Width int
	// Wide adds columns: inode, socket UID, queues, command line.
	Wide bool
	// Remote adds the remote address column (for -a).
	Remote bool
	// NetNS adds the network namespace column (for --all-netns).
	NetNS bool
	// Explain adds evidence and details to the narrative.
	Explain bool
	// Hint is the exact command that would show hidden owners, such as
	// "sudo whobinds 80"; empty when running elevated would not help.
	Hint string
}

// addr formats a local address as ss does, with the bound interface:
// "0.0.0.0%eth0:80".
func addr(s *model.Socket) string {
	a := s.Local.Addr()
	host := a.String()
	if a.Is6() && !a.Is4In6() || a.Is4In6() {
		host = "[" + host + "]"
	}
	if s.Interface != "" {
		host += "%" + s.Interface
	} else if s.IfIndex != 0 {
		host += "%" + strconv.FormatUint(uint64(s.IfIndex), 10)
	}
	return host + ":" + strconv.Itoa(int(s.Local.Port()))
}

func remote(s *model.Socket) string {
	if !s.Remote.IsValid() || s.Remote.Port() == 0 && s.Remote.Addr().IsUnspecified() {
		return "*"
	}
	return s.Remote.String()
}

func pids(s *model.Socket) []int {
	out := make([]int, len(s.Holders))
	for i, h := range s.Holders {
		out[i] = h.PID
	}
	return out
}

// names returns the distinct process names of the holders, in holder order.
func names(s *model.Socket) []string {
	var out []string
	for _, h := range s.Holders {
		n := "?"
		if h.Process != nil {
			n = displayName(h.Process)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// users returns the distinct user names (or UIDs) of the holders.
func users(s *model.Socket) []string {
	var out []string
	for _, h := range s.Holders {
		if h.Process == nil {
			continue
		}
		u := userOf(h.Process)
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// displayName is the process's name, untruncated: the kernel keeps only
// 15 bytes of it ("systemd-socket-"), so a name of that length that
// begins the executable's name in argv[0] is given in full.
func displayName(p *model.Process) string {
	const commLen = 15 // TASK_COMM_LEN - 1
	if len(p.Name) == commLen && len(p.Cmdline) > 0 {
		if base := filepath.Base(p.Cmdline[0]); len(base) > commLen && strings.HasPrefix(base, p.Name) {
			return base
		}
	}
	return p.Name
}

func userOf(p *model.Process) string {
	if p.User != "" {
		return p.User
	}
	return strconv.FormatUint(uint64(p.UID), 10)
}

// noOwner says what stands in the process column of a socket without
// holders.
func noOwner(s *model.Socket) string {
	switch {
	case s.Hidden != "":
		return "(hidden)"
	case hasKind(s, model.AttrKernel):
		return "(kernel)"
	}
	return "(none)"
}

func hasKind(s *model.Socket, k model.AttrKind) bool {
	for _, a := range s.Attributions {
		if a.Kind == k {
			return true
		}
	}
	return false
}

// why is the one-line reason for the table: the most specific attribution.
func why(s *model.Socket) string {
	if s.Hidden != "" && len(s.Holders) == 0 {
		return "owner hidden: " + s.Hidden
	}
	if s.Hidden != "" {
		return "more holders hidden: " + s.Hidden
	}
	if len(s.Attributions) == 0 {
		return ""
	}
	return short(s.Attributions[0])
}

// short summarizes an attribution in a few words.
func short(a model.Attribution) string {
	switch a.Kind {
	case model.AttrUnit:
		if a.Manager != "" && a.Manager != "system" {
			return a.Name + " (" + a.Manager + ")"
		}
		return a.Name
	case model.AttrSocketActivation:
		switch {
		case a.Name != "" && a.Service != "":
			return a.Name + " → " + a.Service
		case a.Service != "":
			return a.Manager + " → " + a.Service
		case a.Manager != "":
			return "socket activation by " + a.Manager
		}
		return "socket activation"
	case model.AttrContainer:
		name := a.Name
		if name == "" {
			name = shortID(a.ID)
		}
		if name == "" && a.Pod != "" {
			name = "pod " + a.Pod
		}
		s := a.Manager + " container " + name
		if a.Image != "" {
			s += " (" + a.Image + ")"
		}
		return s
	case model.AttrForwarder:
		s := a.Manager
		if a.Name != "" {
			s += " → container " + a.Name
		}
		if a.Target.IsValid() {
			if a.Target.Addr().IsValid() {
				s += " " + a.Target.String()
			} else {
				s += " port " + strconv.Itoa(int(a.Target.Port()))
			}
		}
		return s
	case model.AttrKernel:
		if a.Name != "" {
			return "kernel: " + a.Manager + " device " + a.Name
		}
		if a.Manager != "" {
			return "kernel: " + a.Manager
		}
		return "kernel"
	case model.AttrStartedBy:
		parent, _, _ := strings.Cut(a.Detail, " ← ")
		return "started by " + parent
	case model.AttrService:
		if a.Ambiguous {
			return "one of the services " + a.Name
		}
		return "service " + a.Name
	case model.AttrHTTPSys:
		if a.Service != "" {
			return "http.sys " + a.Name + " for " + a.Service
		}
		return "http.sys " + a.Name
	case model.AttrRPC:
		return "RPC " + a.Name
	}
	return string(a.Kind) + " " + a.Name
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func joinInts(a []int, sep string) string {
	s := make([]string, len(a))
	for i, n := range a {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}

// duration formats an age compactly: 45s, 3m12s, 2h13m, 5d4h.
func duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// quoteArgs joins a command line, quoting arguments that need it.
func quoteArgs(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`") {
			b.WriteString(strconv.Quote(a))
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// sanitize replaces control characters so that a hostile process name or
// command line cannot move the cursor or break a row.
func sanitize(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return '?'
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
