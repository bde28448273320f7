package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/probe"
	"github.com/whobinds/whobinds/internal/target"
)

// ProbeOptions are the flags of `whobinds probe`.
type ProbeOptions struct {
	IO      *IO
	Arg     string
	Timeout time.Duration
	Force   bool
	JSON    bool
	// Engine is the engine options; tests point them at fixture roots.
	Engine engine.Options
}

func newProbeCmd(io *IO) *cobra.Command {
	opts := &ProbeOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "probe [HOST:]PORT",
		Short: "What actually answers on a port: HTTP, TLS, SSH, mail, databases, RPC",
		Long: `probe connects to a TCP port and finds out what answers there. It first
listens: SSH, SMTP, FTP, POP3, IMAP, MySQL/MariaDB, VNC and telnet servers
speak first. A silent server is then asked, each question on a connection
of its own: a TLS handshake (certificate subject, names, issuer, validity,
ALPN, version, then HTTP inside), an HTTP GET / (status, Server, page
title, redirect), a Redis PING, a PostgreSQL SSLRequest and startup, and a
DCE/RPC bind (then the endpoint map names the interfaces on the port).
Nothing logs in anywhere.

HOST is this machine by default. For a port of this machine (no HOST,
localhost, or one of its addresses) probe also says which process, unit,
service or container holds the port.

Raw printing ports 9100-9107 print whatever arrives; probe refuses them
unless --force. --timeout bounds the whole probe; each question gets a
sixth of it.

Exit codes: 0 something answered, 1 nothing listens (connection refused),
2 bad input, 3 a printer port without --force, 4 the host could not be
reached or did not answer the connection in time.`,
		Example: `  whobinds probe 8080
  whobinds probe localhost:5432
  whobinds probe --json 192.0.2.10:443
  whobinds probe --timeout 10s mail.example.org:25`,
		Args:          usageArgs(cobra.ExactArgs(1)),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, args []string) error {
			opts.Arg = args[0]
			return runProbe(c.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opts.Timeout, "timeout", probe.DefaultTimeout, "give up after this long, every question included")
	f.BoolVar(&opts.Force, "force", false, "probe a raw printing port (9100-9107) even though a printer would print what is sent")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

// parseProbeArg reads [HOST:]PORT: 8080, :8080, localhost:8080,
// 192.0.2.1:443, [::1]:5432, example.org:25. host is "" when omitted.
func parseProbeArg(s string) (host string, port uint16, err error) {
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/?#@") {
		return "", 0, fmt.Errorf("%q: give [HOST:]PORT, such as example.org:443, not a URL", s)
	}
	ps := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, ps = s[:i], s[i+1:]
		bracketed := strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]")
		if strings.HasPrefix(host, "[") != strings.HasSuffix(host, "]") {
			return "", 0, fmt.Errorf("%q: unbalanced brackets: write an IPv6 address as [::1]:80", s)
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if strings.Contains(host, ":") && !bracketed {
			return "", 0, fmt.Errorf("%q: put an IPv6 address in brackets: [%s]:%s", s, host, ps)
		}
		if bracketed {
			if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
				return "", 0, fmt.Errorf("%q: %q in brackets is not an IPv6 address", s, host)
			}
		}
		if host != "" && !validHost(host) {
			return "", 0, fmt.Errorf("%q: %q is neither an IP address nor a host name", s, host)
		}
	}
	if ps == "" || strings.Trim(ps, "0123456789") != "" {
		return "", 0, fmt.Errorf("%q: %q is not a port number (want 1-65535)", s, ps)
	}
	n, err := strconv.ParseUint(ps, 10, 32)
	if err != nil || n > 65535 {
		return "", 0, fmt.Errorf("port %s is out of range (want 1-65535)", ps)
	}
	if n == 0 {
		return "", 0, errors.New("port 0 is not a port anyone can listen on (want 1-65535)")
	}
	return host, uint16(n), nil
}

// validHost accepts an IP address or a DNS name (RFC 1123 labels; an
// underscore is let through, as resolvers do).
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	if last := labels[len(labels)-1]; last != "" && strings.Trim(last, "0123456789") == "" {
		return false // no top-level domain is numeric: a mistyped IP address
	}
	for _, label := range labels {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func runProbe(ctx context.Context, o *ProbeOptions) error {
	host, port, err := parseProbeArg(strings.TrimSpace(o.Arg))
	if err != nil {
		return usageError{err}
	}
	if o.Timeout <= 0 {
		return usageError{fmt.Errorf("--timeout %v: want a positive duration such as 3s", o.Timeout)}
	}
	if probe.IsPrinterPort(port) && !o.Force {
		return refusedError{fmt.Sprintf("port %d is a raw printing port (JetDirect/AppSocket, 9100-9107): a printer there prints whatever a probe sends; %s probe --force %s probes it anyway",
			port, o.IO.Program(), o.Arg)}
	}
	doc := probeDoc{Schema: "whobinds/v1", Target: o.Arg, Local: host == "" || isLocal(host)}

	// For a port of this host, who holds it; without a HOST, also which
	// address to connect to.
	var snap *model.Snapshot
	if doc.Local {
		snap, err = o.collect(ctx, port)
		if err != nil && !errors.Is(err, engine.ErrNotSupported) {
			fmt.Fprintf(o.IO.Err, "whobinds: warning: the holder of port %d is unknown: %s\n", port, oneLine(err.Error()))
		}
	}
	dial := host
	if dial == "" {
		dial = localAddr(snap, port)
	}
	addr := net.JoinHostPort(dial, strconv.Itoa(int(port)))
	res, err := probe.Probe(ctx, addr, probe.Options{Timeout: o.Timeout, Force: o.Force})
	switch {
	case errors.Is(err, probe.ErrRefused):
		return noMatchError{"nothing answers on " + addr + elsewhere(snap, port, dial)}
	case errors.Is(err, probe.ErrAddress):
		return usageError{err}
	case err != nil:
		return err
	}
	doc.Result = res
	if snap != nil {
		doc.Owner = ownerFor(snap, port, res.Address)
	}
	if o.JSON {
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(doc)
	} else {
		err = writeProbe(o.IO.Out, &doc, o.hint(snap), time.Now())
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// collect asks the engine about the port's sockets, TCP and UDP.
func (o *ProbeOptions) collect(ctx context.Context, port uint16) (*model.Snapshot, error) {
	eng, err := engine.New(o.Engine)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	return eng.Collect(ctx, engine.Query{Targets: []target.Target{{Lo: port, Hi: port}}, SkipRPC: true})
}

// hint is the command that shows a hidden holder.
func (o *ProbeOptions) hint(snap *model.Snapshot) string {
	cmd := o.IO.Program() + " probe " + shellQuote(o.Arg)
	if snap != nil && snap.Host.OS == "windows" {
		return "an elevated prompt (Run as administrator): " + cmd
	}
	return "sudo " + cmd
}

// localAddr picks the address of this host to connect to for port: where
// its TCP listener is bound, loopback for a wildcard listener, 127.0.0.1
// when the engine saw none.
func localAddr(snap *model.Snapshot, port uint16) string {
	if snap == nil {
		return "127.0.0.1"
	}
	best, bestRank := "127.0.0.1", 99
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if s.Proto != model.TCP || !s.IsListener() || s.Local.Port() != port {
			continue
		}
		a := s.Local.Addr().Unmap()
		rank, pick := 99, a.String()
		switch {
		case a.Is4() && a.IsUnspecified(), a.Is6() && a.IsUnspecified() && s.V6Only != model.Yes:
			rank, pick = 0, "127.0.0.1"
		case a.Is4() && a.IsLoopback():
			rank = 0
		case a.Is6() && (a.IsUnspecified() || a.IsLoopback()):
			rank, pick = 1, "::1"
		case a.Is4():
			rank = 2
		case a.Is6() && !a.IsLinkLocalUnicast():
			rank = 3
		}
		if rank < bestRank {
			best, bestRank = pick, rank
		}
	}
	return best
}

// elsewhere explains a refused connection from what the engine saw: the
// port listens on another address only, or it is a UDP port.
func elsewhere(snap *model.Snapshot, port uint16, dialed string) string {
	if snap == nil {
		return ""
	}
	want, _ := netip.ParseAddr(dialed)
	var other, udp string
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if s.Local.Port() != port || !s.IsListener() {
			continue
		}
		switch {
		case s.Proto == model.UDP:
			udp = s.Local.String()
		case want.IsValid() && !target.Serves(s.Local.Addr(), s.V6Only, want):
			other = s.Local.Addr().String()
		}
	}
	switch {
	case other != "":
		return fmt.Sprintf(" (TCP port %d listens on %s only: try %s)", port, other, net.JoinHostPort(other, strconv.Itoa(int(port))))
	case udp != "":
		return fmt.Sprintf(" (only UDP %s is bound; probe speaks TCP)", udp)
	}
	return ""
}

// probeDoc is the JSON document of `whobinds probe` (docs/json.md): the
// probe's result with the target as given and, for this host, the owner.
type probeDoc struct {
	Schema string `json:"schema"`
	Target string `json:"target"`
	Local  bool   `json:"local"`
	*probe.Result
	Owner *probeOwner `json:"owner"`
}

// probeOwner is who holds the listening socket that answered.
type probeOwner struct {
	// Socket is the listening socket's local address, "0.0.0.0:8080";
	// empty when no listening socket of this host serves the address.
	Socket  string `json:"socket,omitempty"`
	PID     int    `json:"pid,omitempty"`
	Process string `json:"process,omitempty"`
	User    string `json:"user,omitempty"`
	// Holders is how many processes hold the socket.
	Holders int `json:"holders"`
	// Why is the unit, service or container behind the holder, as an
	// attribution kind and a name.
	Why *probeWhy `json:"why,omitempty"`
	// Hidden says why the holders could not be seen.
	Hidden string `json:"hidden,omitempty"`
}

type probeWhy struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// ownerFor finds the listener of this host that took the connection to
// address.
func ownerFor(snap *model.Snapshot, port uint16, address string) *probeOwner {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil
	}
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if s.Proto != model.TCP || !s.IsListener() || s.Local.Port() != port || !target.Serves(s.Local.Addr(), s.V6Only, ap.Addr()) {
			continue
		}
		o := &probeOwner{Socket: s.Local.String(), Holders: len(s.Holders), Hidden: s.Hidden}
		if len(s.Holders) > 0 {
			o.PID = s.Holders[0].PID
			if p := s.Holders[0].Process; p != nil {
				o.Process = p.Name
				o.User = p.User
				if o.User == "" {
					o.User = strconv.FormatUint(uint64(p.UID), 10)
				}
			}
		}
		for _, a := range s.Attributions {
			switch a.Kind {
			case model.AttrUnit, model.AttrService, model.AttrContainer, model.AttrForwarder, model.AttrSocketActivation, model.AttrKernel:
				if !a.Ambiguous {
					o.Why = &probeWhy{Kind: string(a.Kind), Name: a.Name}
				}
			}
			if o.Why != nil {
				break
			}
		}
		return o
	}
	return &probeOwner{}
}

// writeProbe tells the result as a short narrative.
func writeProbe(w io.Writer, d *probeDoc, hint string, now time.Time) error {
	var b strings.Builder
	r := d.Result
	head := []string{r.Address, serviceLabel(r)}
	if r.Product != "" {
		head = append(head, r.Product)
	}
	b.WriteString(strings.Join(head, "  ") + "\n")
	line := func(label, text string) {
		for i, l := range strings.Split(text, "\n") {
			if i > 0 {
				label = ""
			}
			fmt.Fprintf(&b, "  %-10s%s\n", label, sanitizeCell(l))
		}
	}
	if r.Banner != "" {
		line("banner", r.Banner)
	}
	if len(r.SMTPExtensions) > 0 {
		line("smtp", "extensions "+strings.Join(r.SMTPExtensions, ", "))
	}
	if t := r.TLS; t != nil {
		line("tls", tlsLine(t))
		if t.Subject != "" || t.Chain > 0 {
			line("cert", certLines(t, now))
		}
	}
	if h := r.HTTP; h != nil {
		line("http", httpLine(h))
	}
	if m := r.MySQL; m != nil {
		line("mysql", mysqlLine(m))
	}
	if x := r.Redis; x != nil {
		line("redis", redisLine(x))
	}
	if p := r.Postgres; p != nil {
		line("postgres", postgresLine(p))
	}
	if x := r.DCERPC; x != nil {
		line("rpc", dceLine(x))
	}
	if r.Reply != "" {
		line("reply", r.Reply+" (to the "+r.ReplyTo+" question)")
	}
	if r.Service == probe.ServiceUnknown || r.Service == probe.ServiceTLS && r.HTTP == nil {
		var asked []string
		for _, a := range r.Attempts {
			asked = append(asked, a.Question+": "+a.Outcome)
		}
		line("asked", strings.Join(asked, "\n"))
	}
	if d.Local {
		line("owner", ownerLine(d.Owner, hint))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func serviceLabel(r *probe.Result) string {
	s := r.Service
	switch s {
	case probe.ServiceUnknown:
		return "unknown: accepts connections but answered no question"
	case probe.ServiceBanner:
		return "unknown protocol that speaks first"
	case probe.ServiceTLS:
		return "TLS"
	}
	if r.TLS != nil {
		s += " over TLS"
	}
	return s
}

func tlsLine(t *probe.TLSInfo) string {
	if t.Error != "" {
		return "speaks TLS but ended the handshake: " + t.Error
	}
	parts := []string{t.Version}
	if t.ALPN != "" {
		parts = append(parts, "ALPN "+t.ALPN)
	} else {
		parts = append(parts, "no ALPN")
	}
	if t.CipherSuite != "" {
		parts = append(parts, t.CipherSuite)
	}
	return strings.Join(parts, ", ")
}

func certLines(t *probe.TLSInfo, now time.Time) string {
	var l []string
	l = append(l, dash(t.Subject))
	if len(t.SANs) > 0 {
		l = append(l, "names "+strings.Join(t.SANs, ", "))
	} else {
		l = append(l, "no subject alternative names")
	}
	issuer := "issuer " + dash(t.Issuer)
	if t.SelfSigned {
		issuer = "self-signed"
	}
	if t.Trusted {
		issuer += "; trusted by this system"
	} else if t.TrustError != "" {
		issuer += "; not trusted: " + t.TrustError
	}
	l = append(l, issuer)
	valid := "valid " + t.NotBefore.Format(time.DateOnly) + " to " + t.NotAfter.Format(time.DateOnly)
	switch {
	case t.Expired:
		valid += ", EXPIRED " + ago(now.Sub(t.NotAfter)) + " ago"
	case t.NotYetValid:
		valid += ", NOT YET VALID"
	default:
		valid += ", expires in " + ago(t.NotAfter.Sub(now))
	}
	l = append(l, valid)
	if t.Chain > 1 {
		l = append(l, fmt.Sprintf("chain of %d certificates", t.Chain))
	}
	return strings.Join(l, "\n")
}

// ago is a rough length of time: "3 days", "5 hours", "12 minutes".
func ago(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return strconv.Itoa(int(d.Hours()/24)) + " days"
	case d >= 2*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " hours"
	default:
		return strconv.Itoa(int(d.Minutes())) + " minutes"
	}
}

func httpLine(h *probe.HTTPInfo) string {
	if h.Error != "" {
		return "answered in HTTP, but the answer does not parse: " + h.Error
	}
	s := strconv.Itoa(h.Status)
	if h.Reason != "" {
		s += " " + h.Reason
	}
	if h.Location != "" {
		s += " → " + h.Location
	}
	if h.Title != "" {
		s += `, title "` + h.Title + `"`
	}
	if h.Authenticate != "" {
		s += "\nasks for a login: " + h.Authenticate
	}
	if h.Server == "" {
		s += "\nno Server header"
	}
	return s
}

func mysqlLine(m *probe.MySQLInfo) string {
	if m.Error != "" {
		return fmt.Sprintf("refused the connection: error %d: %s", m.ErrorCode, m.Error)
	}
	s := "protocol " + strconv.Itoa(m.Protocol)
	if m.AuthPlugin != "" {
		s += ", authentication " + m.AuthPlugin
	}
	if m.TLS {
		s += ", offers TLS"
	} else if m.Protocol == 10 {
		s += ", does not offer TLS"
	}
	return s
}

func redisLine(x *probe.RedisInfo) string {
	var s string
	switch x.Auth {
	case "none":
		s = "answers commands without a password (PING: PONG)"
	case "required":
		s = "asks for a password (" + x.Reply + ")"
	case "protected-mode":
		s = "in protected mode: refuses clients from other hosts (" + x.Reply + ")"
	}
	if x.Mode != "" {
		s += ", mode " + x.Mode
	}
	return s
}

func postgresLine(p *probe.PostgresInfo) string {
	var parts []string
	if p.SSL {
		parts = append(parts, "offers TLS")
	} else {
		parts = append(parts, "does not offer TLS")
	}
	switch p.Auth {
	case "":
	case "trust":
		parts = append(parts, "let user postgres in without a password (trust)")
	case "sasl":
		parts = append(parts, "authentication "+strings.Join(p.Mechanisms, ", "))
	default:
		parts = append(parts, "authentication "+p.Auth)
	}
	s := strings.Join(parts, ", ")
	if p.Error != "" {
		s += "\nsaid " + p.Error
	}
	return s
}

func dceLine(x *probe.DCERPCInfo) string {
	s := x.Reply
	switch {
	case x.Accepted:
		s = "endpoint mapper (accepted a bind to it)"
	case x.Reason != "":
		s += ": " + x.Reason
	}
	switch {
	case x.MapEntries > 0:
		s += fmt.Sprintf("\nthe endpoint map has %d entries", x.MapEntries)
		if len(x.Interfaces) > 0 {
			s += "; on this port: " + strings.Join(x.Interfaces, ", ")
		} else {
			s += ", none on this port"
		}
	case x.MapError != "":
		s += "\nthe endpoint map could not be read: " + x.MapError
	}
	return s
}

func ownerLine(o *probeOwner, hint string) string {
	switch {
	case o == nil:
		return "unknown: this host's sockets could not be read"
	case o.Socket == "":
		return "no listening socket of this host serves this address (a NAT rule or another network namespace may forward it)"
	case o.Holders == 0 && o.Hidden != "":
		return "hidden — " + o.Hidden + "\nto see it: " + hint
	case o.Holders == 0:
		s := "no process holds " + o.Socket
		if o.Why != nil {
			s += " — " + o.Why.Kind + " " + o.Why.Name
		}
		return s
	}
	s := fmt.Sprintf("%s, pid %d, user %s", dash(o.Process), o.PID, dash(o.User))
	if o.Holders > 1 {
		s += fmt.Sprintf(" (and %d more processes)", o.Holders-1)
	}
	s += ", on " + o.Socket
	if o.Why != nil {
		s += " — " + strings.ReplaceAll(o.Why.Kind, "-", " ") + " " + o.Why.Name
	}
	return s
}
