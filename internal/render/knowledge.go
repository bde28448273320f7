package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/whobinds/whobinds/internal/explain"
	"github.com/whobinds/whobinds/internal/kb"
)

// Knowledge writes what is known about ports (`whobinds port`). With os
// set, only that system's owners and remedies are shown.
func Knowledge(w io.Writer, ks []explain.Knowledge, os string) error {
	var b strings.Builder
	for i, k := range ks {
		if i > 0 {
			b.WriteByte('\n')
		}
		head := fmt.Sprintf("%d/%s", k.Port, k.Proto)
		switch {
		case k.Entry != nil:
			head += "  " + k.Entry.Title
		case k.IANA != nil:
			head += "  " + k.IANA.Description
		}
		b.WriteString(sanitize(head) + "\n")
		if k.IANA != nil {
			iana := k.IANA.Name
			if len(k.IANA.Aliases) > 0 {
				iana += " (also " + strings.Join(k.IANA.Aliases, ", ") + ")"
			}
			iana += ": " + k.IANA.Description
			if k.IANA.PortEnd != 0 {
				iana += fmt.Sprintf(" (ports %d-%d)", k.IANA.Port, k.IANA.PortEnd)
			}
			line(&b, "IANA", iana)
		}
		e := k.Entry
		if e == nil {
			line(&b, "", "no curated knowledge of this port")
			continue
		}
		if e.PortEnd != 0 {
			line(&b, "range", fmt.Sprintf("%d-%d", e.Port, e.PortEnd))
		}
		line(&b, "what", e.Purpose)
		var owners []string
		for _, o := range e.Owners {
			if os == "" || o.OS == os {
				owners = append(owners, o.OS+": "+ownerText(o))
			}
		}
		if len(owners) > 0 {
			line(&b, "expected", strings.Join(owners, "\n"))
		}
		line(&b, "risk", e.Risk.Level+" — "+e.Risk.Text)
		if e.Seed != "" {
			line(&b, "seeds", e.Seed)
		}
		var rs []string
		for _, r := range e.Remedies {
			if os != "" && r.OS != os {
				continue
			}
			t := r.OS + ": " + r.Text
			if r.Command != "" {
				t += "\n  " + r.Command
			}
			rs = append(rs, t)
		}
		if len(rs) > 0 {
			line(&b, "remedies", strings.Join(rs, "\n"))
		}
		line(&b, "sources", strings.Join(e.Sources, "\n"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ownerText is "System, driver srv2.sys, service LanmanServer (on 127.0.0.53) — note".
func ownerText(o kb.Owner) string {
	var parts []string
	if o.Process != "" {
		parts = append(parts, o.Process)
	}
	if o.Driver != "" {
		parts = append(parts, "driver "+o.Driver)
	}
	if o.Service != "" {
		parts = append(parts, "service "+o.Service)
	}
	t := strings.Join(parts, ", ")
	if o.Addr != "" {
		t += " (on " + o.Addr + ")"
	}
	if o.Note != "" {
		t += " — " + o.Note
	}
	return t
}

type jsonKnowledge struct {
	Proto   string    `json:"proto"`
	Port    uint16    `json:"port"`
	IANA    *jsonIANA `json:"iana"`
	Curated *kb.Entry `json:"curated"`
}

type jsonIANA struct {
	Name        string   `json:"name"`
	Aliases     []string `json:"aliases"`
	Description string   `json:"description"`
	Port        uint16   `json:"port"`
	PortEnd     uint16   `json:"port_end,omitempty"`
}

// KnowledgeJSON writes the knowledge as one whobinds/v1 document; the
// curated part uses the same fields as the embedded ports.json.
func KnowledgeJSON(w io.Writer, ks []explain.Knowledge) error {
	doc := struct {
		Schema string          `json:"schema"`
		Ports  []jsonKnowledge `json:"ports"`
	}{Schema: Schema, Ports: []jsonKnowledge{}}
	for _, k := range ks {
		j := jsonKnowledge{Proto: k.Proto, Port: k.Port, Curated: k.Entry}
		if s := k.IANA; s != nil {
			j.IANA = &jsonIANA{Name: s.Name, Aliases: s.Aliases, Description: s.Description, Port: s.Port, PortEnd: s.PortEnd}
			if j.IANA.Aliases == nil {
				j.IANA.Aliases = []string{}
			}
		}
		doc.Ports = append(doc.Ports, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}
