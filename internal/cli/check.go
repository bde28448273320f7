package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whobinds/whobinds/internal/act"
	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/render"
	"github.com/whobinds/whobinds/internal/target"
)

// CheckOptions are the flags of `whobinds check`.
type CheckOptions struct {
	IO       *IO
	Arg      string
	Addr     string
	TCP, UDP bool
	JSON     bool
	// Engine is the engine options; tests point them at fixture roots.
	Engine engine.Options
}

func newCheckCmd(io *IO) *cobra.Command {
	opts := &CheckOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "check PORT",
		Short: "Could this user bind a port now? If not, why, and what to do",
		Long: `check makes a real trial bind of the port as the current user, closes it at
once, and explains the outcome: in use (by whom, including a dual-stack [::]
socket that holds the IPv4 port too, and what SO_REUSEADDR, SO_REUSEPORT and
IPV6_V6ONLY would and would not change), a privileged port (below
net.ipv4.ip_unprivileged_port_start without CAP_NET_BIND_SERVICE), an address
that is not on this host, TIME-WAIT leftovers, or on Windows an excluded port
range (WSAEACCES 10013) and http.sys reservations. It warns when the port lies
in the ephemeral range, where outgoing connections may take it.

The TCP trial does what a server does: set SO_REUSEADDR (on Windows
SO_EXCLUSIVEADDRUSE), bind, listen. Without --addr, 0.0.0.0 and [::] are tried
apart. PORT may carry a protocol and an address: tcp/80, udp/53,
127.0.0.1:8080. TCP is checked unless --udp (or udp/) says otherwise.

Exit codes: 0 bindable, 1 not bindable, 2 usage error, 4 the system could not
be asked.`,
		Example: `  whobinds check 80
  whobinds check 8080 --addr 127.0.0.1
  whobinds check --udp 53
  whobinds check --json 5432`,
		Args:          usageArgs(cobra.ExactArgs(1)),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, args []string) error {
			opts.Arg = args[0]
			return runCheck(c.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Addr, "addr", "", "the local `ADDRESS` to bind (default: 0.0.0.0 and ::)")
	f.BoolVarP(&opts.TCP, "tcp", "t", false, "check TCP (the default)")
	f.BoolVarP(&opts.UDP, "udp", "u", false, "check UDP")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

// parseOnePort reads the PORT argument of check and wait with their
// --addr, --tcp and --udp flags: one port, at most one address, and the
// protocols to look at (TCP when nothing says otherwise).
func parseOnePort(arg, addr string, tcp, udp bool) (target.Target, []model.Proto, error) {
	t, err := target.Parse(arg)
	if err != nil {
		return t, nil, err
	}
	if !t.Single() {
		return t, nil, fmt.Errorf("%q is a range: give one port", arg)
	}
	if addr != "" {
		a, err := netip.ParseAddr(strings.Trim(addr, "[]"))
		if err != nil {
			return t, nil, fmt.Errorf("--addr %q is not an IP address", addr)
		}
		if t.Addr.IsValid() && t.Addr != a {
			return t, nil, fmt.Errorf("%q names address %s, --addr %s: give one", arg, t.Addr, a)
		}
		t.Addr = a
	}
	switch {
	case t.Proto == model.TCP && udp, t.Proto == model.UDP && tcp:
		return t, nil, fmt.Errorf("%q names %s, which --tcp/--udp contradicts", arg, t.Proto)
	case t.Proto != 0:
		return t, []model.Proto{t.Proto}, nil
	case tcp && udp:
		return t, []model.Proto{model.TCP, model.UDP}, nil
	case udp:
		return t, []model.Proto{model.UDP}, nil
	}
	return t, []model.Proto{model.TCP}, nil
}

func runCheck(ctx context.Context, o *CheckOptions) error {
	t, protos, err := parseOnePort(o.Arg, o.Addr, o.TCP, o.UDP)
	if err != nil {
		return usageError{err}
	}
	// The engine is opened only when a trial fails and its sockets must
	// be named.
	var eng *engine.Engine
	defer func() {
		if eng != nil {
			eng.Close()
		}
	}()
	collect := func(ctx context.Context, q engine.Query) (*model.Snapshot, error) {
		if eng == nil {
			e, err := engine.New(o.Engine)
			if err != nil {
				return nil, err
			}
			eng = e
		}
		return eng.Collect(ctx, q)
	}
	var reports []*act.CheckReport
	for _, p := range protos {
		r, err := act.Check(ctx, act.CheckRequest{Proto: p, Port: t.Lo, Addr: t.Addr, Collect: collect})
		if err != nil {
			return err
		}
		reports = append(reports, r)
	}
	io := o.IO
	hint := ""
	for _, r := range reports {
		for _, u := range r.Facts.Unknown {
			fmt.Fprintf(io.Err, "whobinds: warning: %s\n", oneLine(u))
		}
		if r.SnapshotErr != "" {
			fmt.Fprintf(io.Err, "whobinds: warning: the sockets on the port could not be listed: %s\n", oneLine(r.SnapshotErr))
		}
		if r.Snapshot != nil {
			for _, w := range r.Snapshot.Warnings {
				fmt.Fprintf(io.Err, "whobinds: warning: %s\n", oneLine(w))
			}
			if r.Snapshot.Hidden.NeedsRoot && len(r.Conflicts) > 0 {
				hint = o.hint(r.Snapshot)
			}
		}
	}
	if o.JSON {
		err = writeCheckJSON(io.Out, reports, hint)
	} else {
		err = writeCheckText(io, reports, hint)
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if hint != "" {
		fmt.Fprintf(io.Err, "whobinds: some owners on the port are hidden (needs root); to see them: %s\n", hint)
	}
	var not []string
	for _, r := range reports {
		if !r.Bindable {
			not = append(not, fmt.Sprintf("%s/%d is not bindable: %s", r.Proto, r.Port, checkSummary(r)))
		}
	}
	if len(not) > 0 {
		return noMatchError{strings.Join(not, "; ")}
	}
	return nil
}

// hint is the command that shows the hidden owners.
func (o *CheckOptions) hint(snap *model.Snapshot) string {
	parts := []string{"sudo", o.IO.Program(), "check"}
	if snap.Host.OS == "windows" {
		parts = []string{"an elevated prompt (Run as administrator):", o.IO.Program(), "check"}
	}
	if o.Addr != "" {
		parts = append(parts, "--addr", shellQuote(o.Addr))
	}
	if o.TCP {
		parts = append(parts, "--tcp")
	}
	if o.UDP {
		parts = append(parts, "--udp")
	}
	return strings.Join(append(parts, shellQuote(o.Arg)), " ")
}

// checkSummary is the reason in a few words, with who is in the way by PID:
// "in use (pid 812)", "privileged port".
func checkSummary(r *act.CheckReport) string {
	var words []string
	for _, a := range r.Addrs {
		if a.Bindable || a.Reason == act.ReasonNoFamily {
			continue
		}
		w := map[act.BindReason]string{
			act.ReasonInUse:      "in use",
			act.ReasonPrivileged: "privileged port",
			act.ReasonExcluded:   "in an excluded port range",
			act.ReasonNotLocal:   "not an address of this host",
			act.ReasonDenied:     "denied",
		}[a.Reason]
		if w == "" {
			w = "the trial bind failed"
		}
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		words = append(words, "no address family could be tried")
	}
	s := strings.Join(words, ", ")
	var pids []string
	for _, c := range r.Holders() {
		for _, h := range c.Socket.Holders {
			if p := fmt.Sprintf("pid %d", h.PID); !slices.Contains(pids, p) {
				pids = append(pids, p)
			}
		}
	}
	if len(pids) > 0 {
		s += " (" + strings.Join(pids, ", ") + ")"
	}
	return s
}

// checkLine writes "  label     text" as the narrative does, aligning
// continuation lines, with control characters made harmless.
func checkLine(b *strings.Builder, label, text string) {
	width := max(10, len(label)+2)
	for i, l := range strings.Split(text, "\n") {
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(b, "  %-*s%s\n", width, label, checkPrintable(l))
	}
}

// checkPrintable replaces control characters, which a process name may carry.
func checkPrintable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

func bindAddrLabel(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return "[" + a.String() + "]"
	}
	return a.Unmap().String()
}

func writeCheckText(io *IO, reports []*act.CheckReport, hint string) error {
	var b strings.Builder
	for i, r := range reports {
		if i > 0 {
			b.WriteByte('\n')
		}
		head := fmt.Sprintf("%s/%d  ", r.Proto, r.Port)
		if r.Bindable {
			head += "bindable"
		} else {
			head += "not bindable"
		}
		switch {
		case r.Facts.EUID >= 0 && r.Facts.User != "":
			head += fmt.Sprintf(" as uid %d (%s)", r.Facts.EUID, r.Facts.User)
		case r.Facts.EUID >= 0:
			head += fmt.Sprintf(" as uid %d", r.Facts.EUID)
		case r.Facts.User != "":
			head += " as " + r.Facts.User
		}
		b.WriteString(checkPrintable(head) + "\n")
		prev := ""
		for _, a := range r.Addrs {
			text := a.Text
			if text == prev {
				text = "likewise"
			}
			prev = a.Text
			checkLine(&b, bindAddrLabel(a.Addr), text)
		}
		for _, w := range r.Warnings {
			checkLine(&b, "warning", w)
		}
		for _, n := range r.Notes {
			checkLine(&b, "note", n)
		}
		for _, f := range r.Fixes {
			text := f.Text
			if f.Command != "" {
				text = f.Command + "\n  " + f.Text
			}
			checkLine(&b, "fix", text)
		}
		if hs := r.Holders(); len(hs) > 0 && r.Snapshot != nil {
			sub := *r.Snapshot
			sub.Sockets = nil
			for _, c := range hs {
				sub.Sockets = append(sub.Sockets, *c.Socket)
			}
			b.WriteString("\n")
			var nb bytes.Buffer
			ro := render.Options{TTY: io.TTY, Color: io.Color, Width: io.Width, Hint: hint}
			if err := render.Narrative(&nb, &sub, ro); err != nil {
				return err
			}
			b.Write(nb.Bytes())
		}
	}
	_, err := io.Out.Write([]byte(b.String()))
	return err
}

// The JSON document of `whobinds check` (docs/json.md).
type checkDoc struct {
	Schema string      `json:"schema"`
	Checks []checkJSON `json:"checks"`
	// Hint is the command that shows hidden owners, when root would.
	Hint string `json:"hint,omitempty"`
}

type checkJSON struct {
	Proto    string `json:"proto"`
	Port     uint16 `json:"port"`
	Bindable bool   `json:"bindable"`
	// UID is the effective user ID (null on Windows); User its name.
	UID       *int                `json:"uid"`
	User      string              `json:"user,omitempty"`
	Addresses []checkAddrJSON     `json:"addresses"`
	Conflicts []checkConflictJSON `json:"conflicts"`
	// Sockets are the sockets in the way, as `whobinds --json` writes them;
	// conflicts refer to them by index.
	Sockets  json.RawMessage `json:"sockets"`
	Warnings []string        `json:"warnings"`
	Notes    []string        `json:"notes"`
	Fixes    []checkFixJSON  `json:"fixes"`
	// Unknown lists facts that could not be read.
	Unknown []string `json:"unknown"`
	// SocketsError says why the sockets on the port could not be listed.
	SocketsError string `json:"sockets_error,omitempty"`
}

type checkAddrJSON struct {
	Address string `json:"address"`
	// V6Only is the trial's IPV6_V6ONLY; null for IPv4 and the system's
	// default.
	V6Only   *bool  `json:"v6only"`
	Bindable bool   `json:"bindable"`
	Reason   string `json:"reason,omitempty"`
	Error    string `json:"error,omitempty"`
	Text     string `json:"text"`
}

type checkConflictJSON struct {
	Socket int      `json:"socket"`
	Blocks []string `json:"blocks"`
	Why    string   `json:"why"`
	Holds  bool     `json:"holds"`
}

type checkFixJSON struct {
	Text    string `json:"text"`
	Command string `json:"command,omitempty"`
}

func writeCheckJSON(w io.Writer, reports []*act.CheckReport, hint string) error {
	doc := checkDoc{Schema: render.Schema, Checks: []checkJSON{}, Hint: hint}
	for _, r := range reports {
		j := checkJSON{
			Proto: r.Proto.String(), Port: r.Port, Bindable: r.Bindable, User: r.Facts.User,
			Addresses: []checkAddrJSON{}, Conflicts: []checkConflictJSON{}, Sockets: json.RawMessage("[]"),
			Warnings: checkStrings(r.Warnings), Notes: checkStrings(r.Notes), Fixes: []checkFixJSON{}, Unknown: checkStrings(r.Facts.Unknown),
			SocketsError: r.SnapshotErr,
		}
		if r.Facts.EUID >= 0 {
			uid := r.Facts.EUID
			j.UID = &uid
		}
		for _, a := range r.Addrs {
			ja := checkAddrJSON{Address: a.Addr.String(), Bindable: a.Bindable, Reason: string(a.Reason), Error: a.Error, Text: a.Text}
			if a.Addr.Is6() && a.V6Only != model.Unknown {
				v := a.V6Only == model.Yes
				ja.V6Only = &v
			}
			j.Addresses = append(j.Addresses, ja)
		}
		if len(r.Conflicts) > 0 && r.Snapshot != nil {
			sub := *r.Snapshot
			sub.Sockets = nil
			for i, c := range r.Conflicts {
				sub.Sockets = append(sub.Sockets, *c.Socket)
				jc := checkConflictJSON{Socket: i, Why: c.Why, Holds: slices.ContainsFunc(r.Holders(), func(h act.BindConflict) bool { return h.Socket == c.Socket })}
				for _, a := range c.Blocks {
					jc.Blocks = append(jc.Blocks, a.String())
				}
				j.Conflicts = append(j.Conflicts, jc)
			}
			socks, err := checkSocketsJSON(&sub)
			if err != nil {
				return err
			}
			j.Sockets = socks
		}
		for _, f := range r.Fixes {
			j.Fixes = append(j.Fixes, checkFixJSON(f))
		}
		doc.Checks = append(doc.Checks, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// checkSocketsJSON encodes sockets exactly as `whobinds --json` does, in
// their order, by cutting the "sockets" array out of its document.
func checkSocketsJSON(snap *model.Snapshot) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := render.JSON(&buf, snap, render.Query{}, render.Options{}); err != nil {
		return nil, err
	}
	var doc struct {
		Sockets json.RawMessage `json:"sockets"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		return nil, err
	}
	if len(doc.Sockets) == 0 {
		return nil, errors.New("the socket encoder wrote no sockets")
	}
	return doc.Sockets, nil
}

func checkStrings(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
