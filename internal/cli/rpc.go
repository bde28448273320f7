package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/rpc/dcerpc"
	"github.com/whobinds/whobinds/internal/rpc/oncrpc"
	"github.com/whobinds/whobinds/internal/target"
)

// RPCOptions are the flags of `whobinds rpc`.
type RPCOptions struct {
	IO      *IO
	Host    string
	DCE     bool
	ONC     bool
	JSON    bool
	Timeout time.Duration
	Engine  engine.Options
}

func newRPCCmd(io *IO) *cobra.Command {
	opts := &RPCOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "rpc [HOST]",
		Short: "Which RPC interface lives on which port: the DCE/RPC and ONC RPC endpoint maps",
		Long: `rpc asks a host's RPC endpoint maps which interfaces are registered on which
ports: the DCE/RPC endpoint mapper on TCP 135 (Windows, Samba; like
rpcdump) and the ONC RPC portmapper/rpcbind on port 111 (NFS, statd,
mountd, NIS; like rpcinfo -p). HOST is this machine by default; then every
endpoint is joined with the process, service or unit that holds its port.

A remote endpoint mapper may lie: answers are capped in size and count
and bounded by --timeout. When one map cannot be read, the other is still
printed and the exit code is 4.`,
		Example: `  whobinds rpc
  whobinds rpc --onc --json
  whobinds rpc --dce 192.0.2.10`,
		Args:          usageArgs(cobra.MaximumNArgs(1)),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Host = args[0]
			}
			return runRPC(c.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.DCE, "dce", false, "only the DCE/RPC endpoint mapper (TCP 135)")
	f.BoolVar(&opts.ONC, "onc", false, "only the ONC RPC portmapper/rpcbind (port 111)")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON document")
	f.DurationVar(&opts.Timeout, "timeout", 5*time.Second, "give up on a map after this long")
	return cmd
}

// rpcHost normalizes HOST: a name or an address, not a URL or host:port.
func rpcHost(h string) (string, error) {
	if h == "" {
		return "127.0.0.1", nil
	}
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return a.String(), nil
	}
	if strings.ContainsAny(h, ":/[] \t") || len(h) > 253 {
		return "", fmt.Errorf("%q is not a host name or an IP address", h)
	}
	return h, nil
}

// isLocal reports whether host is this machine, so endpoints can be
// joined with the holders of their ports.
func isLocal(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	if a.IsLoopback() || a.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil && p.Addr().Unmap() == a.Unmap() {
			return true
		}
	}
	return false
}

// rpcMapError is one endpoint map that could not be read; the other map
// is still printed.
type rpcMapError struct{ errs []error }

func (e rpcMapError) Error() string {
	var s []string
	for _, err := range e.errs {
		s = append(s, err.Error())
	}
	return strings.Join(s, "; ")
}

func runRPC(ctx context.Context, o *RPCOptions) error {
	host, err := rpcHost(o.Host)
	if err != nil {
		return usageError{err}
	}
	if o.Timeout <= 0 {
		return usageError{fmt.Errorf("--timeout %v: want a positive duration such as 5s", o.Timeout)}
	}
	both := !o.DCE && !o.ONC
	doc := rpcDoc{Schema: "whobinds/v1", Host: host, Local: isLocal(host)}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	type dceResult struct {
		es  []dcerpc.Entry
		err error
	}
	type oncResult struct {
		ms  []oncrpc.Mapping
		err error
	}
	dceCh, oncCh := make(chan dceResult, 1), make(chan oncResult, 1)
	if o.DCE || both {
		doc.DCE = &rpcDCE{Address: net.JoinHostPort(host, "135")}
		go func() {
			es, err := dcerpc.Lookup(ctx, doc.DCE.Address, dcerpc.Limits{})
			dceCh <- dceResult{es, err}
		}()
	}
	if o.ONC || both {
		doc.ONC = &rpcONC{Address: net.JoinHostPort(host, "111")}
		go func() {
			ms, err := oncrpc.Dump(ctx, doc.ONC.Address, oncrpc.Options{})
			oncCh <- oncResult{ms, err}
		}()
	}
	var failed []error
	if doc.DCE != nil {
		r := <-dceCh
		if r.err != nil {
			failed = append(failed, fmt.Errorf("DCE/RPC endpoint map: %w", r.err))
			doc.DCE.Error = r.err.Error()
		}
		doc.DCE.Entries = dceJSON(r.es)
	}
	if doc.ONC != nil {
		r := <-oncCh
		if r.err != nil {
			failed = append(failed, fmt.Errorf("ONC RPC map: %w", r.err))
			doc.ONC.Error = r.err.Error()
		}
		doc.ONC.Mappings = oncJSON(r.ms)
	}
	if doc.Local {
		if err := joinHolders(ctx, o, &doc); err != nil {
			fmt.Fprintf(o.IO.Err, "whobinds: warning: the holders of the RPC ports are unknown: %s\n", oneLine(err.Error()))
		}
	}

	if o.JSON {
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	} else if err := writeRPCTables(o.IO, &doc); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if len(failed) > 0 {
		return rpcMapError{failed}
	}
	return nil
}

// The JSON document of `whobinds rpc` (docs/json.md).
type rpcDoc struct {
	Schema string  `json:"schema"`
	Host   string  `json:"host"`
	Local  bool    `json:"local"`
	DCE    *rpcDCE `json:"dce,omitempty"`
	ONC    *rpcONC `json:"onc,omitempty"`
}

type rpcDCE struct {
	Address string        `json:"address"`
	Error   string        `json:"error,omitempty"`
	Entries []rpcDCEEntry `json:"entries"`
}

type rpcDCEEntry struct {
	Interface  string     `json:"interface"`
	Version    string     `json:"version"`
	Name       string     `json:"name,omitempty"`
	Protocol   string     `json:"protocol"`
	Binding    string     `json:"binding"`
	Host       string     `json:"host,omitempty"`
	Endpoint   string     `json:"endpoint"`
	Port       uint16     `json:"port,omitempty"`
	Object     string     `json:"object,omitempty"`
	Annotation string     `json:"annotation,omitempty"`
	Holder     *rpcHolder `json:"holder,omitempty"`
}

type rpcONC struct {
	Address  string          `json:"address"`
	Error    string          `json:"error,omitempty"`
	Mappings []rpcONCMapping `json:"mappings"`
}

type rpcONCMapping struct {
	Program uint32     `json:"program"`
	Version uint32     `json:"version"`
	Name    string     `json:"name,omitempty"`
	Netid   string     `json:"netid"`
	Port    uint16     `json:"port,omitempty"`
	Addr    string     `json:"addr,omitempty"`
	Owner   string     `json:"rpcbind_owner,omitempty"`
	Holder  *rpcHolder `json:"holder,omitempty"`
}

// rpcHolder is who holds an endpoint's port on this host.
type rpcHolder struct {
	PID     int    `json:"pid,omitempty"`
	Process string `json:"process,omitempty"`
	// Service is the unit, Windows service or container behind it.
	Service string `json:"service,omitempty"`
	// Hidden says why the holder is unknown.
	Hidden string `json:"hidden,omitempty"`
}

func dceJSON(es []dcerpc.Entry) []rpcDCEEntry {
	out := make([]rpcDCEEntry, 0, len(es))
	for _, e := range es {
		out = append(out, rpcDCEEntry{
			Interface: e.Interface, Version: e.Version, Name: e.Name(), Protocol: e.Protocol, Binding: e.Binding(),
			Host: e.Host, Endpoint: e.Endpoint, Port: e.Port, Object: e.Object, Annotation: e.Annotation,
		})
	}
	slices.SortStableFunc(out, func(a, b rpcDCEEntry) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Endpoint, b.Endpoint), cmp.Compare(a.Interface, b.Interface))
	})
	return out
}

func oncJSON(ms []oncrpc.Mapping) []rpcONCMapping {
	out := make([]rpcONCMapping, 0, len(ms))
	for _, m := range ms {
		out = append(out, rpcONCMapping{
			Program: m.Program, Version: m.Version, Name: m.Name(), Netid: m.Netid, Port: m.Port, Addr: m.Addr, Owner: m.Owner,
		})
	}
	slices.SortStableFunc(out, func(a, b rpcONCMapping) int {
		return cmp.Or(cmp.Compare(a.Program, b.Program), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Netid, b.Netid))
	})
	return out
}

// joinHolders finds who holds each endpoint's port on this host.
func joinHolders(ctx context.Context, o *RPCOptions, doc *rpcDoc) error {
	type key struct {
		proto model.Proto
		port  uint16
	}
	want := map[key]bool{}
	if doc.DCE != nil {
		for _, e := range doc.DCE.Entries {
			if p := engine.DCEProto(e.Protocol); p != 0 && e.Port != 0 {
				want[key{p, e.Port}] = true
			}
		}
	}
	if doc.ONC != nil {
		for _, m := range doc.ONC.Mappings {
			if p := engine.ONCProto(m.Netid); p != 0 && m.Port != 0 {
				want[key{p, m.Port}] = true
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	q := engine.Query{SkipRPC: true}
	for k := range want {
		q.Targets = append(q.Targets, target.Target{Proto: k.proto, Lo: k.port, Hi: k.port})
	}
	eng, err := engine.New(o.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	snap, err := eng.Collect(ctx, q)
	if err != nil {
		return err
	}
	holders := map[key]*rpcHolder{}
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		k := key{s.Proto, s.Local.Port()}
		if _, seen := holders[k]; seen {
			continue
		}
		holders[k] = holderOf(s)
	}
	if doc.DCE != nil {
		for i := range doc.DCE.Entries {
			e := &doc.DCE.Entries[i]
			e.Holder = holders[key{engine.DCEProto(e.Protocol), e.Port}]
		}
	}
	if doc.ONC != nil {
		for i := range doc.ONC.Mappings {
			m := &doc.ONC.Mappings[i]
			m.Holder = holders[key{engine.ONCProto(m.Netid), m.Port}]
		}
	}
	return nil
}

func holderOf(s *model.Socket) *rpcHolder {
	h := &rpcHolder{Hidden: s.Hidden}
	if len(s.Holders) > 0 {
		h.PID = s.Holders[0].PID
		if p := s.Holders[0].Process; p != nil {
			h.Process = p.Name
		}
	}
	for _, a := range s.Attributions {
		switch a.Kind {
		case model.AttrUnit, model.AttrService, model.AttrContainer:
			if h.Service == "" && !a.Ambiguous {
				h.Service = a.Name
			}
		}
	}
	return h
}

func (h *rpcHolder) String() string {
	switch {
	case h == nil:
		return "-"
	case h.Process == "" && h.PID == 0:
		if h.Hidden != "" {
			return "(hidden)"
		}
		return "-"
	}
	s := h.Process + " (" + strconv.Itoa(h.PID) + ")"
	if h.Service != "" {
		s += " " + h.Service
	}
	return s
}

// writeRPCTables prints each map as a table.
func writeRPCTables(io *IO, doc *rpcDoc) error {
	w := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	if doc.DCE != nil && len(doc.DCE.Entries) > 0 {
		fmt.Fprintf(w, "DCE/RPC endpoint map of %s: %d entries\n", doc.DCE.Address, len(doc.DCE.Entries))
		fmt.Fprintln(w, "PROTOCOL\tENDPOINT\tINTERFACE\tVERSION\tNAME\tANNOTATION\tHOLDER")
		for _, e := range doc.DCE.Entries {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Protocol, dash(e.Endpoint), e.Interface, e.Version, dash(e.Name), dash(sanitizeCell(e.Annotation)), e.Holder)
		}
		if doc.ONC != nil && len(doc.ONC.Mappings) > 0 {
			fmt.Fprintln(w)
		}
	}
	if doc.ONC != nil && len(doc.ONC.Mappings) > 0 {
		fmt.Fprintf(w, "ONC RPC map of %s: %d mappings\n", doc.ONC.Address, len(doc.ONC.Mappings))
		fmt.Fprintln(w, "PROGRAM\tVERS\tNETID\tPORT\tNAME\tHOLDER")
		for _, m := range doc.ONC.Mappings {
			port := "-"
			if m.Port != 0 {
				port = strconv.Itoa(int(m.Port))
			} else if m.Addr != "" {
				port = m.Addr
			}
			fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\n", m.Program, m.Version, m.Netid, port, dash(m.Name), m.Holder)
		}
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sanitizeCell keeps a server's free text from breaking the table.
func sanitizeCell(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
