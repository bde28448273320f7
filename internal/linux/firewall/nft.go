package firewall

// This file reads the output of `nft -j list ruleset`: the libnftables JSON
// schema (man libnftables-json), as nft 1.0 prints it.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ParseNFT reads the output of `nft -j list ruleset`. Rules with matches or
// statements it does not know are kept: they evaluate as undecidable
// matches or Unknown verdicts, never as errors. It fails only on output that
// is not the nft JSON schema.
func ParseNFT(b []byte) (*Ruleset, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc struct {
		Nftables []any `json:"nftables"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding nft JSON: %w", err)
	}
	if doc.Nftables == nil {
		return nil, errors.New("decoding nft JSON: no \"nftables\" array")
	}
	p := &nftParser{rs: &Ruleset{}, chains: map[string]*chain{}, sets: map[string]map[string]any{}}
	var rules []map[string]any
	for i, o := range doc.Nftables {
		obj, ok := o.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("decoding nft JSON: object %d is a %T, not an object", i, o)
		}
		for kind, v := range obj {
			m, _ := v.(map[string]any)
			switch kind {
			case "table":
				p.rs.tables++
			case "chain":
				if m == nil {
					return nil, fmt.Errorf("decoding nft JSON: object %d: chain is not an object", i)
				}
				p.chain(m)
			case "set", "map":
				if m != nil {
					p.sets[setKey(str(m["family"]), str(m["table"]), str(m["name"]))] = m
				}
			case "rule":
				if m == nil {
					return nil, fmt.Errorf("decoding nft JSON: object %d: rule is not an object", i)
				}
				rules = append(rules, m)
			}
		}
	}
	for _, m := range rules {
		if err := p.rule(m); err != nil {
			return nil, fmt.Errorf("decoding nft JSON: %w", err)
		}
	}
	for _, c := range p.rs.chains {
		for _, ru := range c.rules {
			for i, e := range ru.exprs {
				switch e := e.(type) {
				case action:
					ru.exprs[i] = p.resolve(c, e)
				case *vmap:
					for j := range e.acts {
						e.acts[j] = p.resolve(c, e.acts[j])
					}
				}
			}
		}
	}
	p.rs.index()
	return p.rs, nil
}

type nftParser struct {
	rs     *Ruleset
	chains map[string]*chain
	sets   map[string]map[string]any
}

func setKey(family, table, name string) string { return family + "\x00" + table + "\x00" + name }

func (p *nftParser) resolve(c *chain, a action) action {
	if a.code == actJump || a.code == actGoto {
		a.to = p.chains[setKey(c.family, c.table, a.target)]
	}
	return a
}

func (p *nftParser) chain(m map[string]any) {
	c := &chain{
		source: "nftables",
		family: str(m["family"]),
		table:  str(m["table"]),
		name:   str(m["name"]),
		policy: action{code: actAccept},
	}
	c.label = c.family + " " + c.table + " " + c.name
	if h, ok := m["hook"]; ok {
		c.base = true
		c.policyText = "policy accept"
		if str(m["policy"]) == "drop" {
			c.policy = action{code: actDrop}
			c.policyText = "policy drop"
		}
		if n, ok := m["prio"].(json.Number); ok {
			if v, err := n.Int64(); err == nil && v >= -1<<31 && v < 1<<31 {
				c.prio = int(v)
			}
		}
		switch c.family {
		case "inet", "ip", "ip6", "netdev":
			switch str(h) {
			case "ingress":
				c.hook = hookIngress
				c.dev = devCond(m["dev"])
				c.dev.rule = &rule{chain: c, text: c.dev.text}
			case "prerouting":
				c.hook = hookPrerouting
			case "input":
				c.hook = hookInput
			}
		}
	}
	p.chains[setKey(c.family, c.table, c.name)] = c
	p.rs.chains = append(p.rs.chains, c)
}

// devCond is the device match of an ingress chain. nft 1.0.6 leaves "dev"
// out of its JSON; then the device is unknown.
func devCond(v any) *cond {
	c := &cond{key: kIif}
	switch v := v.(type) {
	case string:
		c.elems = []elem{{name: v, text: v}}
	case []any:
		for _, d := range v {
			if s, ok := d.(string); ok {
				c.elems = append(c.elems, elem{name: s, text: s})
			}
		}
	default:
		c.key = kUnknown
		c.why = "nft -j does not show the device of this ingress chain"
	}
	c.text = "device"
	if len(c.elems) > 0 {
		c.text = "device " + strings.Join(elemTexts(c.elems), ", ")
	}
	return c
}

func elemTexts(es []elem) []string {
	s := make([]string, len(es))
	for i := range es {
		s[i] = es[i].text
	}
	return s
}

func (p *nftParser) rule(m map[string]any) error {
	family, table, name := str(m["family"]), str(m["table"]), str(m["chain"])
	c := p.chains[setKey(family, table, name)]
	if c == nil {
		return fmt.Errorf("rule of chain %s %s %s, which is not listed", family, table, name)
	}
	ru := &rule{chain: c}
	exprs, _ := m["expr"].([]any)
	texts := make([]string, 0, len(exprs))
	for _, x := range exprs {
		items, text := p.stmt(c, x)
		for _, it := range items {
			switch it := it.(type) {
			case *cond:
				it.rule = ru
			case *vmap:
				it.c.rule = ru
			}
		}
		ru.exprs = append(ru.exprs, items...)
		if text != "" {
			texts = append(texts, text)
		}
	}
	if cm := str(m["comment"]); cm != "" {
		texts = append(texts, "comment "+strconv.Quote(cm))
	}
	ru.text = strings.Join(texts, " ")
	c.rules = append(c.rules, ru)
	return nil
}

// stmt reads one statement of a rule's "expr" array.
func (p *nftParser) stmt(c *chain, x any) ([]expr, string) {
	obj, ok := x.(map[string]any)
	if !ok || len(obj) != 1 {
		t := compact(x)
		return []expr{action{code: actUnknown, why: "statement " + t}}, t
	}
	for kind, v := range obj {
		m, _ := v.(map[string]any)
		switch kind {
		case "match":
			return p.match(c, m)
		case "accept":
			return []expr{action{code: actAccept}}, "accept"
		case "drop":
			return []expr{action{code: actDrop}}, "drop"
		case "continue":
			return nil, "continue"
		case "return":
			return []expr{action{code: actReturn}}, "return"
		case "jump", "goto":
			t := str(m["target"])
			code := actJump
			if kind == "goto" {
				code = actGoto
			}
			return []expr{action{code: code, target: t}}, kind + " " + t
		case "reject":
			return []expr{action{code: actReject}}, rejectText(m)
		case "counter":
			return nil, "counter"
		case "log":
			t := "log"
			if pf, ok := m["prefix"].(string); ok {
				t += " prefix " + strconv.Quote(pf)
			}
			return nil, t
		case "limit":
			return []expr{&cond{key: kConst, val: !boolean(m["inv"]), text: limitText(m)}}, limitText(m)
		case "ct count":
			over := boolean(m["inv"])
			t := "ct count " + ifs(over, "over ", "") + valueText(m["val"])
			return []expr{&cond{key: kConst, val: !over, text: t}}, t
		case "vmap":
			return p.vmap(c, m)
		case "notrack":
			return []expr{notrack{}}, "notrack"
		case "dnat", "redirect":
			t := natText(kind, m)
			return []expr{action{code: actRedirect, why: t}}, t
		case "snat", "masquerade":
			return []expr{action{code: actAccept}}, natText(kind, m)
		case "queue":
			return []expr{action{code: actUnknown, why: "queue: a userspace program decides"}}, "queue"
		case "xt":
			return xtStmt(m)
		case "mangle":
			t := exprText(m["key"]) + " set " + valueText(m["value"])
			if t != "meta mark set "+valueText(m["value"]) {
				return nil, t
			}
			if n, ok := m["value"].(json.Number); ok {
				if v, err := strconv.ParseUint(n.String(), 10, 32); err == nil {
					return []expr{markSet{or: v}}, t
				}
			}
			return []expr{markSet{and: 1<<32 - 1, unknown: true}}, t
		case "set", "meter":
			// A dynamic set update; with a limit or ct count inside it
			// matches like one (the first packet of a source is under any
			// limit).
			t := kind + " " + compact(m)
			inner, _ := m["stmt"].([]any)
			for _, s := range inner {
				if sm, ok := s.(map[string]any); ok {
					for k, iv := range sm {
						if k == "limit" || k == "ct count" {
							im, _ := iv.(map[string]any)
							return []expr{&cond{key: kConst, val: !boolean(im["inv"]), text: t}}, t
						}
					}
				}
			}
			return nil, t
		case "dup", "flow", "secmark", "last", "ct helper", "ct timeout", "ct expectation", "synproxy", "quota":
			if kind == "synproxy" || kind == "quota" {
				t := kind + " " + compact(v)
				return []expr{&cond{key: kUnknown, why: kind + " depends on state the ruleset does not show", text: t}}, t
			}
			return nil, kind
		}
		t := kind + " " + compact(v)
		return []expr{action{code: actUnknown, why: "statement " + kind + " is not evaluated"}}, t
	}
	return nil, ""
}

// xtStmt reads an iptables-nft compat expression: nft -j shows only its
// type and name, never its options.
func xtStmt(m map[string]any) ([]expr, string) {
	typ, name := str(m["type"]), str(m["name"])
	t := strings.TrimSpace("xt " + typ + " " + name)
	if typ == "target" {
		switch name {
		case "REJECT":
			return []expr{action{code: actReject}}, t
		case "MARK", "CONNMARK":
			return []expr{markSet{and: 1<<32 - 1, unknown: true}}, t
		case "LOG", "NFLOG", "ULOG", "AUDIT", "TRACE", "CONNSECMARK", "SECMARK",
			"CLASSIFY", "DSCP", "TOS", "TTL", "HL", "TCPMSS", "SET", "CHECKSUM", "IDLETIMER", "LED", "RATEEST", "TEE":
			return nil, t
		case "NOTRACK":
			return []expr{notrack{}}, t
		case "DNAT", "REDIRECT", "NETMAP":
			return []expr{action{code: actRedirect, why: t}}, t
		case "SNAT", "MASQUERADE":
			return []expr{action{code: actAccept}}, t
		}
		return []expr{action{code: actUnknown, why: t + ": nft -j does not show what it does"}}, t
	}
	switch name {
	case "comment":
		return []expr{&cond{key: kConst, val: true, text: t}}, t
	case "limit":
		return []expr{&cond{key: kConst, val: true, text: t}}, t
	}
	return []expr{&cond{key: kUnknown, why: "an iptables-nft match whose options nft -j does not show (iptables-nft-save does)", text: t}}, t
}

// A leftKey is what the left side of a match reads.
type leftKey struct {
	key    key
	deps   []*cond // implicit matches: "tcp dport" needs TCP
	parts  []key   // kConcat
	masked bool
	mask   uint64
	ether  bool // meta protocol: values are EtherTypes
	why    string
}

func implicit(k key, ns ...uint64) *cond {
	c := &cond{key: k}
	for _, n := range ns {
		c.elems = append(c.elems, numElem(n, ""))
	}
	return c
}

var payloadL4 = map[string]uint64{
	"tcp": 6, "udp": 17, "udplite": 136, "sctp": 132, "dccp": 33,
	"icmp": 1, "icmpv6": 58, "igmp": 2, "ah": 51, "esp": 50, "comp": 108, "gre": 47,
}

func (p *nftParser) left(x any) leftKey {
	obj, ok := x.(map[string]any)
	if !ok || len(obj) != 1 {
		return leftKey{why: "cannot read " + compact(x)}
	}
	for kind, v := range obj {
		m, _ := v.(map[string]any)
		switch kind {
		case "payload":
			proto, field := str(m["protocol"]), str(m["field"])
			if proto == "" {
				return leftKey{why: "raw payload matches are not evaluated"}
			}
			if n, ok := payloadL4[proto]; ok {
				dep := implicit(kL4proto, n)
				switch {
				case field == "dport" && n != 1 && n != 58 && n != 2:
					return leftKey{key: kDport, deps: []*cond{dep}}
				case field == "sport" && n != 1 && n != 58 && n != 2:
					return leftKey{key: kSport, deps: []*cond{dep}}
				case proto == "tcp" && field == "flags":
					return leftKey{key: kTCPFlags, deps: []*cond{dep}}
				}
				return leftKey{deps: []*cond{dep}, why: proto + " " + field + " is not evaluated"}
			}
			switch proto {
			case "th":
				dep := implicit(kL4proto, 6, 17, 136, 132, 33)
				switch field {
				case "dport":
					return leftKey{key: kDport, deps: []*cond{dep}}
				case "sport":
					return leftKey{key: kSport, deps: []*cond{dep}}
				}
				return leftKey{deps: []*cond{dep}, why: "th " + field + " is not evaluated"}
			case "ip", "ip6":
				fam, n := uint64(2), uint64(4)
				if proto == "ip6" {
					fam, n = 10, 6
				}
				dep := implicit(kFamily, fam)
				switch field {
				case "saddr":
					return leftKey{key: kSaddr, deps: []*cond{dep}}
				case "daddr":
					return leftKey{key: kDaddr, deps: []*cond{dep}}
				case "protocol", "nexthdr":
					return leftKey{key: kL4proto, deps: []*cond{dep}}
				case "version":
					return leftKey{key: kConst, deps: []*cond{dep}, mask: n}
				}
				return leftKey{deps: []*cond{dep}, why: proto + " " + field + " is not evaluated"}
			}
			return leftKey{why: proto + " " + field + " is not evaluated"}
		case "meta":
			switch k := str(m["key"]); k {
			case "l4proto":
				return leftKey{key: kL4proto}
			case "nfproto":
				return leftKey{key: kFamily}
			case "protocol":
				return leftKey{key: kFamily, ether: true}
			case "iifname", "iif":
				return leftKey{key: kIif}
			case "oifname", "oif", "oifgroup", "oiftype", "oifkind", "obrname", "obriport":
				return leftKey{key: kOif}
			case "pkttype":
				return leftKey{key: kPkttype}
			case "mark":
				return leftKey{key: kMark, why: markWhy}
			default:
				return leftKey{why: "meta " + k + " is not known for an inbound packet"}
			}
		case "ct":
			if _, ok := m["dir"]; ok {
				return leftKey{why: "ct " + str(m["dir"]) + " " + str(m["key"]) + " is not evaluated"}
			}
			switch k := str(m["key"]); k {
			case "state":
				return leftKey{key: kCtState}
			case "status":
				return leftKey{key: kCtStatus}
			case "direction":
				return leftKey{key: kCtDir}
			default:
				return leftKey{why: "ct " + k + " is not known for a new connection"}
			}
		case "fib":
			flags := strs(m["flags"])
			switch res := str(m["result"]); {
			case res == "type" && slices.Equal(flags, []string{"daddr"}):
				return leftKey{key: kDstType}
			case res == "oif" && slices.Contains(flags, "saddr") && slices.Contains(flags, "iif"):
				// The reverse-path check: an ordinary remote host has a
				// route back through the interface it came in on.
				return leftKey{key: kRPF}
			}
			return leftKey{why: exprText(x) + " is not evaluated"}
		case "&":
			ops, _ := v.([]any)
			if len(ops) != 2 {
				return leftKey{why: "cannot read " + compact(x)}
			}
			in := p.left(ops[0])
			switch in.key {
			case kTCPFlags, kCtState, kCtStatus, kMark:
			default:
				if in.why == "" {
					in.why = exprText(x) + " is not evaluated"
				}
				in.key = kUnknown
				return in
			}
			e, err := p.scalar(in, in.key, ops[1])
			if err != nil {
				return leftKey{why: err.Error()}
			}
			in.masked, in.mask = true, e.lo
			return in
		case "concat":
			items, _ := v.([]any)
			var lk leftKey
			lk.key = kConcat
			for _, it := range items {
				sub := p.left(it)
				lk.deps = append(lk.deps, sub.deps...)
				switch sub.key {
				case kUnknown, kConcat, kConst, kOif:
					return leftKey{deps: lk.deps, why: exprText(x) + " is not evaluated"}
				}
				if sub.masked || sub.ether {
					return leftKey{deps: lk.deps, why: exprText(x) + " is not evaluated"}
				}
				lk.parts = append(lk.parts, sub.key)
			}
			if len(lk.parts) == 0 {
				return leftKey{why: "empty concatenation"}
			}
			return lk
		}
		return leftKey{why: kind + " matches are not evaluated"}
	}
	return leftKey{why: "cannot read " + compact(x)}
}

const markWhy = "the packet's mark comes from outside the rules (tc, eBPF, or a statement whose value is not known)"

func isFlags(k key) bool { return k == kCtState || k == kCtStatus || k == kTCPFlags }

func (p *nftParser) match(c *chain, m map[string]any) ([]expr, string) {
	op, l, r := str(m["op"]), m["left"], m["right"]
	ot := opText(op)
	if lm, ok := l.(map[string]any); ok && op == "==" {
		for _, bin := range []string{"&", "|", "^", "<<", ">>"} {
			if _, ok := lm[bin]; ok {
				ot = " == " // nft spells it out after a binary operation
			}
		}
	}
	text := exprText(l) + ot + rightText(l, r)
	lk := p.left(l)
	out := make([]expr, 0, len(lk.deps)+1)
	for _, d := range lk.deps {
		out = append(out, d)
	}
	if lk.key == kUnknown {
		return append(out, &cond{key: kUnknown, why: lk.why, text: text}), text
	}
	if lk.key == kConst { // ip version
		want := uint64(0)
		if n, ok := r.(json.Number); ok {
			want, _ = strconv.ParseUint(n.String(), 10, 8)
		}
		eq := want == lk.mask
		return append(out, &cond{key: kConst, val: eq != (op == "!="), text: text}), text
	}
	if lk.key == kOif {
		return append(out, &cond{key: kOif, text: text}), text
	}
	cd := &cond{key: lk.key, parts: lk.parts, masked: lk.masked, mask: lk.mask, why: lk.why, text: text}
	elems, err := p.values(c, lk, r)
	if err != nil {
		return append(out, &cond{key: kUnknown, why: err.Error(), text: text}), text
	}
	switch op {
	case "", "==":
	case "!=":
		cd.neg = true
	case "in":
		cd.bits = isFlags(lk.key) && !lk.masked
	case "<", ">", "<=", ">=":
		if len(elems) != 1 || elems[0].lo != elems[0].hi || lk.key == kConcat ||
			lk.key == kSaddr || lk.key == kDaddr || lk.key == kIif {
			return append(out, &cond{key: kUnknown, why: "comparison " + op + " on this value is not evaluated", text: text}), text
		}
		n := elems[0].lo
		lo, hi := uint64(0), uint64(1<<64-1)
		switch op {
		case "<":
			if n == 0 {
				return append(out, &cond{key: kConst, text: text}), text
			}
			hi = n - 1
		case "<=":
			hi = n
		case ">":
			if n == 1<<64-1 {
				return append(out, &cond{key: kConst, text: text}), text
			}
			lo = n + 1
		case ">=":
			lo = n
		}
		elems = []elem{{lo: lo, hi: hi, text: op + " " + elems[0].text}}
	default:
		return append(out, &cond{key: kUnknown, why: "operator " + op + " is not evaluated", text: text}), text
	}
	cd.elems = elems
	return append(out, cd), text
}

func (p *nftParser) vmap(c *chain, m map[string]any) ([]expr, string) {
	text := exprText(m["key"]) + " vmap " + valueText(m["data"])
	lk := p.left(m["key"])
	var out []expr
	for _, d := range lk.deps {
		out = append(out, d)
	}
	vm := &vmap{c: &cond{key: lk.key, parts: lk.parts, masked: lk.masked, mask: lk.mask, why: lk.why, text: text}, text: text}
	switch lk.key {
	case kUnknown, kConst, kOif:
		if vm.c.why == "" {
			vm.c.why = "a verdict map on " + exprText(m["key"]) + " is not evaluated"
		}
		vm.c.key = kUnknown
		return append(out, vm), text
	}
	var pairs []any
	switch d := m["data"].(type) {
	case map[string]any:
		pairs, _ = d["set"].([]any)
	case string:
		if name, ok := strings.CutPrefix(d, "@"); ok {
			if s := p.sets[setKey(c.family, c.table, name)]; s != nil {
				pairs, _ = s["elem"].([]any)
			}
		}
	}
	for _, pr := range pairs {
		kv, ok := pr.([]any)
		if !ok || len(kv) != 2 {
			continue
		}
		es, err := p.elemValues(lk, kv[0])
		if err != nil {
			vm.c.key, vm.c.why = kUnknown, err.Error()
			return append(out, vm), text
		}
		a := verdictObj(kv[1])
		for _, e := range es {
			vm.c.elems = append(vm.c.elems, e)
			vm.acts = append(vm.acts, a)
		}
	}
	return append(out, vm), text
}

// verdictObj reads a verdict of a verdict map.
func verdictObj(x any) action {
	obj, _ := x.(map[string]any)
	for k, v := range obj {
		switch k {
		case "accept":
			return action{code: actAccept}
		case "drop":
			return action{code: actDrop}
		case "reject":
			return action{code: actReject}
		case "return":
			return action{code: actReturn}
		case "continue":
			return action{}
		case "jump", "goto":
			m, _ := v.(map[string]any)
			code := actJump
			if k == "goto" {
				code = actGoto
			}
			return action{code: code, target: str(m["target"])}
		}
	}
	return action{code: actUnknown, why: "verdict " + compact(x) + " is not evaluated"}
}

// values reads the right side of a match: a value, a range, a prefix, a
// flag list, an anonymous set or a named set.
func (p *nftParser) values(c *chain, lk leftKey, x any) ([]elem, error) {
	if s, ok := x.(string); ok && strings.HasPrefix(s, "@") {
		set := p.sets[setKey(c.family, c.table, s[1:])]
		if set == nil {
			return nil, fmt.Errorf("set %s is not listed", s)
		}
		items, _ := set["elem"].([]any)
		var out []elem
		for _, it := range items {
			es, err := p.elemValues(lk, it)
			if err != nil {
				return nil, fmt.Errorf("set %s: %w", s, err)
			}
			out = append(out, es...)
		}
		return out, nil
	}
	if m, ok := x.(map[string]any); ok {
		if items, ok := m["set"].([]any); ok {
			var out []elem
			for _, it := range items {
				es, err := p.elemValues(lk, it)
				if err != nil {
					return nil, err
				}
				out = append(out, es...)
			}
			return out, nil
		}
	}
	return p.elemValues(lk, x)
}

// elemValues reads one element of a set (or one plain value).
func (p *nftParser) elemValues(lk leftKey, x any) ([]elem, error) {
	if m, ok := x.(map[string]any); ok {
		if e, ok := m["elem"].(map[string]any); ok {
			return p.elemValues(lk, e["val"])
		}
	}
	if lk.key == kConcat {
		m, _ := x.(map[string]any)
		items, ok := m["concat"].([]any)
		if !ok || len(items) != len(lk.parts) {
			return nil, fmt.Errorf("cannot read %s as a concatenation of %d values", compact(x), len(lk.parts))
		}
		e := elem{text: valueText(x)}
		for i, it := range items {
			pe, err := p.scalar(lk, lk.parts[i], it)
			if err != nil {
				return nil, err
			}
			e.parts = append(e.parts, pe)
		}
		return []elem{e}, nil
	}
	e, err := p.scalar(lk, lk.key, x)
	if err != nil {
		return nil, err
	}
	return []elem{e}, nil
}

// Symbol tables for the values nft prints by name.
var (
	protoNames = map[string]uint64{
		"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17, "ipv6": 41, "gre": 47, "esp": 50,
		"ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "comp": 108, "pim": 103, "vrrp": 112, "sctp": 132,
		"udplite": 136, "dccp": 33, "ospf": 89, "all": 0,
	}
	familyNames  = map[string]uint64{"ipv4": 2, "ipv6": 10}
	etherNames   = map[string]uint64{"ip": 2, "ip6": 10}
	ctStateNames = map[string]uint64{
		"invalid": ctInvalid, "established": ctEstablished, "related": ctRelated, "new": ctNew, "untracked": ctUntracked,
	}
	ctStatusNames = map[string]uint64{
		"expected": 1, "seen-reply": 2, "assured": 4, "confirmed": 8, "snat": 16, "dnat": 32, "dying": 512,
	}
	ctDirNames    = map[string]uint64{"original": 0, "reply": 1}
	pkttypeNames  = map[string]uint64{"host": 0, "unicast": 0, "broadcast": 1, "multicast": 2, "other": 3}
	routeTypes    = map[string]uint64{"unspec": 0, "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4, "multicast": 5, "blackhole": 6, "unreachable": 7, "prohibit": 8, "throw": 9, "nat": 10, "xresolve": 11}
	tcpFlagNames  = map[string]uint64{"fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32, "ecn": 64, "cwr": 128}
	symbolsForKey = map[key]map[string]uint64{
		kL4proto: protoNames, kFamily: familyNames, kCtState: ctStateNames, kCtStatus: ctStatusNames,
		kCtDir: ctDirNames, kPkttype: pkttypeNames, kDstType: routeTypes, kTCPFlags: tcpFlagNames,
	}
)

// scalar reads one value, range or prefix for key k.
func (p *nftParser) scalar(lk leftKey, k key, x any) (elem, error) {
	text := valueText(x)
	switch k {
	case kSaddr, kDaddr:
		switch v := x.(type) {
		case string:
			a, err := netip.ParseAddr(v)
			if err != nil {
				return elem{}, fmt.Errorf("cannot read address %q", v)
			}
			return elem{alo: a, ahi: a, text: text}, nil
		case map[string]any:
			if pm, ok := v["prefix"].(map[string]any); ok {
				a, err := netip.ParseAddr(str(pm["addr"]))
				n, ok := pm["len"].(json.Number)
				if err != nil || !ok {
					return elem{}, fmt.Errorf("cannot read prefix %s", compact(v))
				}
				bits, err := strconv.Atoi(n.String())
				if err != nil || bits < 0 || bits > a.BitLen() {
					return elem{}, fmt.Errorf("cannot read prefix %s", compact(v))
				}
				return prefixElem(netip.PrefixFrom(a, bits), text), nil
			}
			if r, ok := v["range"].([]any); ok && len(r) == 2 {
				lo, err1 := netip.ParseAddr(str(r[0]))
				hi, err2 := netip.ParseAddr(str(r[1]))
				if err1 != nil || err2 != nil || lo.BitLen() != hi.BitLen() {
					return elem{}, fmt.Errorf("cannot read address range %s", compact(v))
				}
				return elem{alo: lo, ahi: hi, text: text}, nil
			}
		}
		return elem{}, fmt.Errorf("cannot read %s as an address", compact(x))
	case kIif:
		switch v := x.(type) {
		case string:
			return elem{name: v, text: text}, nil
		case json.Number:
			return elem{name: "#" + v.String(), text: text}, nil
		}
		return elem{}, fmt.Errorf("cannot read %s as an interface", compact(x))
	case kRPF:
		if b, ok := x.(bool); ok {
			return numElem(map[bool]uint64{false: 0, true: 1}[b], text), nil
		}
		return elem{}, fmt.Errorf("cannot read %s as a fib result", compact(x))
	}
	if m, ok := x.(map[string]any); ok {
		if r, ok := m["range"].([]any); ok && len(r) == 2 {
			lo, err1 := p.scalar(lk, k, r[0])
			hi, err2 := p.scalar(lk, k, r[1])
			if err1 != nil || err2 != nil || lo.lo > hi.lo {
				return elem{}, fmt.Errorf("cannot read range %s", compact(x))
			}
			return elem{lo: lo.lo, hi: hi.lo, text: text}, nil
		}
	}
	var n uint64
	switch v := x.(type) {
	case json.Number:
		u, err := strconv.ParseUint(v.String(), 10, 64)
		if err != nil {
			return elem{}, fmt.Errorf("cannot read number %s", v)
		}
		n = u
		if lk.ether {
			n = map[uint64]uint64{0x0800: 2, 0x86dd: 10}[u]
			if n == 0 {
				n = 1 << 32 // an EtherType no IP packet has
			}
		}
	case string:
		u, ok := p.symbol(lk, k, v)
		if !ok {
			return elem{}, fmt.Errorf("cannot read %q", v)
		}
		n = u
	case []any: // flags, ORed
		for _, f := range v {
			s, _ := f.(string)
			u, ok := p.symbol(lk, k, s)
			if !ok {
				return elem{}, fmt.Errorf("cannot read %s", compact(v))
			}
			n |= u
		}
	default:
		return elem{}, fmt.Errorf("cannot read %s", compact(x))
	}
	return numElem(n, text), nil
}

func (p *nftParser) symbol(lk leftKey, k key, s string) (uint64, bool) {
	if lk.ether {
		if n, ok := etherNames[s]; ok {
			return n, true
		}
		return 1 << 32, s != ""
	}
	if n, err := strconv.ParseUint(s, 0, 64); err == nil {
		return n, true
	}
	n, ok := symbolsForKey[k][s]
	return n, ok
}

// Text for people: the expressions nft prints, rendered back roughly as
// nft's own syntax.

var bareMeta = map[string]bool{
	"iif": true, "iifname": true, "oif": true, "oifname": true, "iiftype": true, "oiftype": true,
	"iifgroup": true, "oifgroup": true, "mark": false, "skuid": true, "skgid": true,
}

func exprText(x any) string {
	obj, ok := x.(map[string]any)
	if !ok || len(obj) != 1 {
		return valueText(x)
	}
	for kind, v := range obj {
		m, _ := v.(map[string]any)
		switch kind {
		case "payload":
			if proto := str(m["protocol"]); proto != "" {
				return proto + " " + str(m["field"])
			}
			return fmt.Sprintf("@%s,%s,%s", str(m["base"]), valueText(m["offset"]), valueText(m["len"]))
		case "meta":
			k := str(m["key"])
			if bareMeta[k] {
				return k
			}
			return "meta " + k
		case "ct":
			if d := str(m["dir"]); d != "" {
				return "ct " + d + " " + str(m["key"])
			}
			return "ct " + str(m["key"])
		case "fib":
			return "fib " + strings.Join(strs(m["flags"]), " . ") + " " + str(m["result"])
		case "&", "|", "^", "<<", ">>":
			ops, _ := v.([]any)
			if len(ops) == 2 {
				r := valueText(ops[1])
				if flags, ok := ops[1].([]any); ok {
					r = "(" + strings.ReplaceAll(valueText(flags), ",", " | ") + ")"
				}
				return exprText(ops[0]) + " " + kind + " " + r
			}
		case "concat":
			items, _ := v.([]any)
			parts := make([]string, len(items))
			for i, it := range items {
				parts[i] = exprText(it)
			}
			return strings.Join(parts, " . ")
		}
		return kind + " " + compact(v)
	}
	return ""
}

func opText(op string) string {
	switch op {
	case "", "==", "in":
		return " "
	}
	return " " + op + " "
}

// rightText is valueText, with interface names quoted as nft quotes them.
func rightText(l, r any) string {
	if m, ok := l.(map[string]any); ok {
		if mm, ok := m["meta"].(map[string]any); ok {
			if k := str(mm["key"]); k == "iifname" || k == "oifname" {
				if s, ok := r.(string); ok && !strings.HasPrefix(s, "@") {
					return strconv.Quote(s)
				}
			}
		}
	}
	return valueText(r)
}

func valueText(x any) string {
	switch v := x.(type) {
	case nil:
		return ""
	case json.Number:
		return v.String()
	case string:
		return v
	case bool:
		if v {
			return "exists"
		}
		return "missing"
	case []any:
		parts := make([]string, len(v))
		for i, it := range v {
			parts[i] = valueText(it)
		}
		if len(v) == 2 {
			if _, ok := v[1].(map[string]any); ok { // a map element: key : verdict
				return parts[0] + " : " + parts[1]
			}
		}
		return strings.Join(parts, ",")
	case map[string]any:
		if len(v) != 1 {
			return compact(v)
		}
		for k, in := range v {
			m, _ := in.(map[string]any)
			switch k {
			case "set":
				items, _ := in.([]any)
				parts := make([]string, len(items))
				for i, it := range items {
					parts[i] = valueText(it)
				}
				return "{ " + strings.Join(parts, ", ") + " }"
			case "range":
				r, _ := in.([]any)
				if len(r) == 2 {
					return valueText(r[0]) + "-" + valueText(r[1])
				}
			case "prefix":
				return valueText(m["addr"]) + "/" + valueText(m["len"])
			case "concat":
				items, _ := in.([]any)
				parts := make([]string, len(items))
				for i, it := range items {
					parts[i] = valueText(it)
				}
				return strings.Join(parts, " . ")
			case "elem":
				return valueText(m["val"])
			case "accept", "drop", "return", "continue", "reject":
				return k
			case "jump", "goto":
				return k + " " + str(m["target"])
			}
			return exprText(v)
		}
	}
	return compact(x)
}

func rejectText(m map[string]any) string {
	t := "reject"
	if typ := str(m["type"]); typ != "" {
		t += " with " + typ
		if e := str(m["expr"]); e != "" {
			t += " " + e
		}
	}
	return t
}

func limitText(m map[string]any) string {
	t := "limit rate "
	if boolean(m["inv"]) {
		t += "over "
	}
	t += valueText(m["rate"])
	if u := str(m["rate_unit"]); u != "" && u != "packets" {
		t += " " + u
	}
	t += "/" + str(m["per"])
	if b := str(m["burst"]); b != "" && b != "5" && b != "0" {
		t += " burst " + b + " packets"
	}
	return t
}

func natText(kind string, m map[string]any) string {
	t := kind
	addr, port := m["addr"], m["port"]
	switch {
	case addr != nil && port != nil:
		t += " to " + valueText(addr) + ":" + valueText(port)
	case addr != nil:
		t += " to " + valueText(addr)
	case port != nil:
		t += " to :" + valueText(port)
	}
	return t
}

// JSON helpers, tolerant of anything: fuzzed input reaches them.

func str(x any) string {
	switch v := x.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func strs(x any) []string {
	switch v := x.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, s := range v {
			out = append(out, str(s))
		}
		return out
	}
	return nil
}

func boolean(x any) bool { b, _ := x.(bool); return b }

func compact(x any) string {
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprint(x)
	}
	return string(b)
}

func ifs(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}
