package render

import (
	"encoding/json"
	"io"
	"time"

	"github.com/whobinds/whobinds/internal/explain"
	"github.com/whobinds/whobinds/internal/model"
)

// Schema is the value of the "schema" field. Fields may be added under the
// same schema; a field never changes meaning.
const Schema = "whobinds/v1"

// The types below are the JSON contract, field by field as docs/json.md
// describes it. They are separate from the model so that the model can
// change without changing the contract.

type jsonDoc struct {
	Schema   string       `json:"schema"`
	Host     jsonHost     `json:"host"`
	Query    Query        `json:"query"`
	Sockets  []jsonSocket `json:"sockets"`
	Hidden   *jsonHidden  `json:"hidden"`
	Warnings []string     `json:"warnings"`
}

// Query echoes what was asked, for the JSON document.
type Query struct {
	Targets   []string `json:"targets"`
	Protocols []string `json:"protocols"`
	Families  []int    `json:"families"`
	AllStates bool     `json:"all_states"`
	AllNetNS  bool     `json:"all_netns"`
	PIDs      []int    `json:"pids,omitempty"`
	Users     []string `json:"users,omitempty"`
}

type jsonHost struct {
	Hostname     string      `json:"hostname"`
	OS           string      `json:"os"`
	Time         time.Time   `json:"time"`
	EUID         int         `json:"euid"`
	NetNS        jsonNetNS   `json:"netns"`
	Namespaces   []jsonNetNS `json:"namespaces"`
	InChildPIDNS bool        `json:"in_child_pid_namespace"`
	// PortRanges and PortRangesUnknown appear only when they were asked
	// for (a port target on Windows).
	PortRanges        []jsonPortRange `json:"port_ranges,omitempty"`
	PortRangesUnknown string          `json:"port_ranges_unknown,omitempty"`
}

type jsonPortRange struct {
	Kind   string   `json:"kind"`
	Proto  string   `json:"proto"`
	Family int      `json:"family"`
	First  uint16   `json:"first"`
	Last   uint16   `json:"last"`
	Owner  string   `json:"likely_owner,omitempty"`
	Fixes  []string `json:"fixes,omitempty"`
}

type jsonNetNS struct {
	Inode uint64 `json:"inode"`
	Name  string `json:"name"`
}

type jsonEndpoint struct {
	Address string `json:"address"`
	Port    uint16 `json:"port"`
}

type jsonSocket struct {
	Proto        string            `json:"proto"`
	Family       int               `json:"family"`
	Local        jsonEndpoint      `json:"local"`
	Remote       *jsonEndpoint     `json:"remote"`
	State        string            `json:"state"`
	Listening    bool              `json:"listening"`
	Inode        uint64            `json:"inode"`
	UID          uint32            `json:"uid"`
	NetNS        jsonNetNS         `json:"netns"`
	RecvQ        uint32            `json:"recv_q"`
	SendQ        uint32            `json:"send_q"`
	V6Only       *bool             `json:"v6only"`
	Interface    *string           `json:"interface"`
	Holders      []jsonHolder      `json:"holders"`
	OwnersHidden *string           `json:"owners_hidden"`
	Attributions []jsonAttribution `json:"attributions"`
	Exposure     jsonExposure      `json:"exposure"`
	Explanation  jsonExplanation   `json:"explanation"`
}

type jsonExplanation struct {
	Service        string       `json:"service"`
	Title          string       `json:"title"`
	Purpose        string       `json:"purpose"`
	ExpectedOwners []jsonOwner  `json:"expected_owners"`
	Anomaly        *string      `json:"anomaly"`
	Risk           jsonRisk     `json:"risk"`
	Privileged     *string      `json:"privileged"`
	Remedies       []jsonRemedy `json:"remedies"`
	Never          *string      `json:"never"`
	Sources        []string     `json:"sources"`
}

type jsonOwner struct {
	OS      string `json:"os"`
	Process string `json:"process,omitempty"`
	Service string `json:"service,omitempty"`
	Driver  string `json:"driver,omitempty"`
	Addr    string `json:"addr,omitempty"`
	Note    string `json:"note,omitempty"`
}

type jsonRisk struct {
	Level string `json:"level"`
	Text  string `json:"text"`
}

type jsonRemedy struct {
	Kind    string `json:"kind"`
	Text    string `json:"text"`
	Command string `json:"command,omitempty"`
}

type jsonHolder struct {
	PID     int          `json:"pid"`
	FDs     []int        `json:"fds"`
	Process *jsonProcess `json:"process"`
}

type jsonProcess struct {
	PID        int            `json:"pid"`
	PPID       int            `json:"ppid"`
	NSPID      int            `json:"ns_pid,omitempty"`
	Name       string         `json:"name"`
	Exe        string         `json:"exe"`
	ExeDeleted bool           `json:"exe_deleted"`
	Cmdline    []string       `json:"cmdline"`
	UID        uint32         `json:"uid"`
	User       string         `json:"user"`
	Start      *time.Time     `json:"start"`
	StartTicks uint64         `json:"start_ticks"`
	Cgroup     string         `json:"cgroup"`
	PIDNS      uint64         `json:"pid_namespace"`
	Ancestors  []jsonAncestor `json:"ancestors"`
	Unreadable []string       `json:"unreadable"`
}

type jsonAncestor struct {
	PID     int      `json:"pid"`
	Name    string   `json:"name"`
	Cmdline []string `json:"cmdline"`
}

type jsonAttribution struct {
	Kind      string        `json:"kind"`
	PID       int           `json:"pid,omitempty"`
	Name      string        `json:"name,omitempty"`
	Manager   string        `json:"manager,omitempty"`
	ID        string        `json:"id,omitempty"`
	Pod       string        `json:"pod,omitempty"`
	Image     string        `json:"image,omitempty"`
	Service   string        `json:"service,omitempty"`
	Target    *jsonEndpoint `json:"target,omitempty"`
	Detail    string        `json:"detail,omitempty"`
	Evidence  string        `json:"evidence"`
	Ambiguous bool          `json:"ambiguous"`
}

type jsonExposure struct {
	Scope string `json:"scope"`
	Text  string `json:"text"`
}

type jsonHidden struct {
	Sockets   int    `json:"sockets"`
	Processes []int  `json:"processes"`
	Reason    string `json:"reason"`
	Hint      string `json:"hint,omitempty"`
}

// JSON writes the snapshot as one whobinds/v1 document.
func JSON(w io.Writer, snap *model.Snapshot, q Query, o Options) error {
	doc := jsonDoc{
		Schema:   Schema,
		Host:     hostJSON(&snap.Host),
		Query:    q,
		Sockets:  make([]jsonSocket, 0, len(snap.Sockets)),
		Warnings: snap.Warnings,
	}
	if doc.Query.Targets == nil {
		doc.Query.Targets = []string{}
	}
	if doc.Warnings == nil {
		doc.Warnings = []string{}
	}
	if h := snap.Hidden; h.Sockets > 0 {
		doc.Hidden = &jsonHidden{Sockets: h.Sockets, Processes: h.Processes, Reason: h.Reason, Hint: o.Hint}
	}
	procs := map[*model.Process]*jsonProcess{}
	for i := range snap.Sockets {
		js := socketJSON(&snap.Sockets[i], procs)
		js.Explanation = explanationJSON(explain.Explain(&snap.Sockets[i], &snap.Host))
		doc.Sockets = append(doc.Sockets, js)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

func hostJSON(h *model.Host) jsonHost {
	j := jsonHost{
		Hostname: h.Hostname, OS: h.OS, Time: h.Time, EUID: h.EUID,
		NetNS: jsonNetNS(h.NetNS), Namespaces: []jsonNetNS{}, InChildPIDNS: h.InChildPIDNS,
	}
	for _, ns := range h.Namespaces {
		j.Namespaces = append(j.Namespaces, jsonNetNS(ns))
	}
	for _, r := range h.PortRanges {
		j.PortRanges = append(j.PortRanges, jsonPortRange{
			Kind: string(r.Kind), Proto: r.Proto.String(), Family: r.Family,
			First: r.First, Last: r.Last, Owner: r.Owner, Fixes: r.Fixes,
		})
	}
	j.PortRangesUnknown = h.PortRangesUnknown
	return j
}

func socketJSON(s *model.Socket, procs map[*model.Process]*jsonProcess) jsonSocket {
	ex := explain.ExposureOf(s)
	j := jsonSocket{
		Proto: s.Proto.String(), Family: s.Family(),
		Local: jsonEndpoint{s.Local.Addr().String(), s.Local.Port()},
		State: s.State.String(), Listening: s.IsListener(),
		Inode: s.Inode, UID: s.UID, NetNS: jsonNetNS(s.NetNS),
		RecvQ: s.RecvQ, SendQ: s.SendQ,
		Holders:      make([]jsonHolder, 0, len(s.Holders)),
		Attributions: make([]jsonAttribution, 0, len(s.Attributions)),
		Exposure:     jsonExposure{string(ex.Scope), ex.Text},
	}
	if s.Remote.IsValid() && s.Remote.Port() != 0 {
		j.Remote = &jsonEndpoint{s.Remote.Addr().String(), s.Remote.Port()}
	}
	if s.V6Only != model.Unknown {
		v := s.V6Only == model.Yes
		j.V6Only = &v
	}
	if s.Interface != "" {
		j.Interface = &s.Interface
	}
	if s.Hidden != "" {
		j.OwnersHidden = &s.Hidden
	}
	for _, h := range s.Holders {
		jh := jsonHolder{PID: h.PID, FDs: h.FDs}
		if h.Process != nil {
			if p, ok := procs[h.Process]; ok {
				jh.Process = p
			} else {
				jh.Process = processJSON(h.Process)
				procs[h.Process] = jh.Process
			}
		}
		j.Holders = append(j.Holders, jh)
	}
	for _, a := range s.Attributions {
		ja := jsonAttribution{
			Kind: string(a.Kind), PID: a.PID, Name: a.Name, Manager: a.Manager, ID: a.ID, Pod: a.Pod,
			Image: a.Image, Service: a.Service, Detail: a.Detail, Evidence: a.Evidence, Ambiguous: a.Ambiguous,
		}
		if a.Target.IsValid() {
			ja.Target = &jsonEndpoint{Port: a.Target.Port()}
			if a.Target.Addr().IsValid() {
				ja.Target.Address = a.Target.Addr().String()
			}
		}
		j.Attributions = append(j.Attributions, ja)
	}
	return j
}

func processJSON(p *model.Process) *jsonProcess {
	j := &jsonProcess{
		PID: p.PID, PPID: p.PPID, NSPID: p.NSPID, Name: p.Name, Exe: p.Exe, ExeDeleted: p.ExeDeleted,
		Cmdline: p.Cmdline, UID: p.UID, User: p.User, StartTicks: p.StartTicks, Cgroup: p.Cgroup,
		PIDNS: p.PIDNS, Ancestors: make([]jsonAncestor, 0, len(p.Ancestors)), Unreadable: p.Unreadable,
	}
	if j.Cmdline == nil {
		j.Cmdline = []string{}
	}
	if j.Unreadable == nil {
		j.Unreadable = []string{}
	}
	if !p.Start.IsZero() {
		t := p.Start.UTC()
		j.Start = &t
	}
	for _, a := range p.Ancestors {
		ja := jsonAncestor{PID: a.PID, Name: a.Name, Cmdline: a.Cmdline}
		if ja.Cmdline == nil {
			ja.Cmdline = []string{}
		}
		j.Ancestors = append(j.Ancestors, ja)
	}
	return j
}

func explanationJSON(f explain.Finding) jsonExplanation {
	j := jsonExplanation{
		Service: f.Service, Title: f.Title, Purpose: f.Purpose,
		ExpectedOwners: make([]jsonOwner, 0, len(f.Expected)),
		Risk:           jsonRisk{f.Risk.Level, f.Risk.Text},
		Remedies:       make([]jsonRemedy, 0, len(f.Remedies)),
		Sources:        f.Sources,
		Anomaly:        nonEmpty(f.Anomaly), Privileged: nonEmpty(f.Privileged), Never: nonEmpty(f.Never),
	}
	if j.Sources == nil {
		j.Sources = []string{}
	}
	for _, o := range f.Expected {
		j.ExpectedOwners = append(j.ExpectedOwners, jsonOwner(o))
	}
	for _, r := range f.Remedies {
		j.Remedies = append(j.Remedies, jsonRemedy(r))
	}
	return j
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
