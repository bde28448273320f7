package firewall

// This file reads iptables-save and ip6tables-save output (legacy or nft
// backend: the format is the same).

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Where the iptables tables hook in, and at which priority
// (include/uapi/linux/netfilter_ipv4.h, enum nf_ip_hook_priorities; IPv6
// uses the same numbers). Hooks after input are left out.
var iptHooks = map[string]map[string]int{
	"raw":      {"PREROUTING": -300},
	"mangle":   {"PREROUTING": -150, "INPUT": -150},
	"nat":      {"PREROUTING": -100, "INPUT": 100},
	"filter":   {"INPUT": 0},
	"security": {"INPUT": 50},
}

// ParseIptablesSave reads the output of iptables-save (family 4) or
// ip6tables-save (family 6). Every table is read; the chains that see an
// inbound packet are raw PREROUTING, mangle PREROUTING and INPUT, nat
// PREROUTING and INPUT, filter INPUT and security INPUT, and the user
// chains they jump to. A match or target it does not know makes that rule
// undecidable, not the parse fail; it fails on lines that are not
// iptables-save syntax.
func ParseIptablesSave(b []byte, family int) (*Ruleset, error) {
	return parseIptables(b, family, "iptables")
}

func parseIptables(b []byte, family int, source string) (*Ruleset, error) {
	if family != 4 && family != 6 {
		return nil, fmt.Errorf("reading iptables-save output: family %d is not 4 or 6", family)
	}
	fam := "ip"
	if family == 6 {
		fam = "ip6"
	}
	rs := &Ruleset{}
	var table string
	var chains map[string]*chain
	type pending struct {
		line int
		c    *chain
		toks []token
		text string
	}
	var rules []pending
	finish := func() error {
		for _, pr := range rules {
			if err := iptRule(pr.c, chains, pr.toks, pr.text, family); err != nil {
				return fmt.Errorf("reading iptables-save output: line %d: %w", pr.line, err)
			}
		}
		rules = rules[:0]
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			if table != "" {
				return nil, fmt.Errorf("reading iptables-save output: line %d: table %s starts before table %s is committed", n, line[1:], table)
			}
			table = line[1:]
			if table == "" {
				return nil, fmt.Errorf("reading iptables-save output: line %d: table without a name", n)
			}
			chains = map[string]*chain{}
			rs.tables++
		case line == "COMMIT":
			if table == "" {
				return nil, fmt.Errorf("reading iptables-save output: line %d: COMMIT outside a table", n)
			}
			if err := finish(); err != nil {
				return nil, err
			}
			table = ""
		case strings.HasPrefix(line, ":"):
			if table == "" {
				return nil, fmt.Errorf("reading iptables-save output: line %d: chain outside a table", n)
			}
			f := strings.Fields(line[1:])
			if len(f) < 2 {
				return nil, fmt.Errorf("reading iptables-save output: line %d: chain line %q", n, line)
			}
			c := &chain{source: source, family: fam, table: table, name: f[0], label: table + " " + f[0]}
			if prio, ok := iptHooks[table][f[0]]; ok {
				c.base, c.prio = true, prio
				c.hook = hookInput
				if f[0] == "PREROUTING" {
					c.hook = hookPrerouting
				}
			}
			switch f[1] {
			case "ACCEPT":
				c.policy, c.policyText = action{code: actAccept}, "policy ACCEPT"
			case "DROP":
				c.policy, c.policyText = action{code: actDrop}, "policy DROP"
			case "-":
				c.policy = action{code: actAccept}
			default:
				return nil, fmt.Errorf("reading iptables-save output: line %d: chain policy %q", n, f[1])
			}
			if chains[c.name] == nil {
				chains[c.name] = c
				rs.chains = append(rs.chains, c)
			}
		default:
			if table == "" {
				return nil, fmt.Errorf("reading iptables-save output: line %d: rule outside a table", n)
			}
			// "[packets:bytes] -A ..." with iptables-save -c.
			if strings.HasPrefix(line, "[") {
				if i := strings.IndexByte(line, ']'); i > 0 {
					line = strings.TrimSpace(line[i+1:])
				}
			}
			toks, err := tokenize(line)
			if err != nil {
				return nil, fmt.Errorf("reading iptables-save output: line %d: %w", n, err)
			}
			if len(toks) < 2 || (toks[0].s != "-A" && toks[0].s != "--append") {
				return nil, fmt.Errorf("reading iptables-save output: line %d: not a chain, rule or table line: %q", n, line)
			}
			c := chains[toks[1].s]
			if c == nil {
				return nil, fmt.Errorf("reading iptables-save output: line %d: rule of undeclared chain %s", n, toks[1].s)
			}
			text := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, toks[0].s), " "+toks[1].s))
			rules = append(rules, pending{line: n, c: c, toks: toks[2:], text: text})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading iptables-save output: %w", err)
	}
	if table != "" {
		return nil, fmt.Errorf("reading iptables-save output: table %s is not committed", table)
	}
	rs.index()
	return rs, nil
}

type token struct {
	s      string
	quoted bool
}

// tokenize splits a rule line as iptables-save quotes it: words, and
// double-quoted strings with \" and \\ escapes.
func tokenize(line string) ([]token, error) {
	var toks []token
	for i := 0; i < len(line); {
		switch line[i] {
		case ' ', '\t':
			i++
			continue
		case '"':
			var sb strings.Builder
			i++
			for {
				if i >= len(line) {
					return nil, fmt.Errorf("unterminated quote in %q", line)
				}
				ch := line[i]
				if ch == '\\' && i+1 < len(line) {
					sb.WriteByte(line[i+1])
					i += 2
					continue
				}
				if ch == '"' {
					i++
					break
				}
				sb.WriteByte(ch)
				i++
			}
			toks = append(toks, token{s: sb.String(), quoted: true})
		default:
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '\t' {
				j++
			}
			toks = append(toks, token{s: line[i:j]})
			i = j
		}
	}
	return toks, nil
}

func isOption(t token) bool { return !t.quoted && len(t.s) > 1 && t.s[0] == '-' }

// An iptOpt is one option of a rule with its arguments and negation.
type iptOpt struct {
	name string
	args []string
	neg  bool
}

// iptRule builds a rule from the tokens after "-A CHAIN".
func iptRule(c *chain, chains map[string]*chain, toks []token, text string, family int) error {
	ru := &rule{chain: c, text: text}
	add := func(cd *cond) {
		cd.rule = ru
		ru.exprs = append(ru.exprs, cd)
	}
	unknown := func(why, t string) { add(&cond{key: kUnknown, why: why, text: t}) }
	var module, target string
	var targetOpts []iptOpt
	var moduleOpts []iptOpt
	flushModule := func() {
		if module != "" {
			for _, cd := range iptMatch(module, moduleOpts, family) {
				add(cd)
			}
		}
		module, moduleOpts = "", nil
	}
	var gotoChain string
	for i := 0; i < len(toks); {
		neg := false
		if toks[i].s == "!" && !toks[i].quoted {
			neg = true
			i++
			if i >= len(toks) {
				return fmt.Errorf("\"!\" at the end of the rule")
			}
		}
		name := toks[i].s
		if !isOption(toks[i]) {
			return fmt.Errorf("expected an option, got %q", name)
		}
		i++
		var args []string
		for i < len(toks) && !isOption(toks[i]) && !(toks[i].s == "!" && !toks[i].quoted) {
			args = append(args, toks[i].s)
			i++
		}
		// The old syntax "--dport ! 22".
		if len(args) == 0 && i+1 < len(toks) && toks[i].s == "!" && !isOption(toks[i+1]) {
			neg = !neg
			args = append(args, toks[i+1].s)
			i += 2
		}
		arg := ""
		if len(args) > 0 {
			arg = args[0]
		}
		t := name + " " + strings.Join(args, " ")
		if neg {
			t = "! " + t
		}
		t = strings.TrimSpace(t)
		if target != "" && name != "-m" && name != "--match" {
			targetOpts = append(targetOpts, iptOpt{name: name, args: args, neg: neg})
			continue
		}
		switch name {
		case "-p", "--protocol":
			flushModule()
			add(protoCond(arg, neg, t))
		case "-s", "--source", "-d", "--destination":
			flushModule()
			k := kSaddr
			if name == "-d" || name == "--destination" {
				k = kDaddr
			}
			e, err := iptAddr(arg)
			if err != nil {
				unknown(err.Error(), t)
				continue
			}
			add(&cond{key: k, neg: neg, elems: []elem{e}, text: t})
		case "-i", "--in-interface":
			flushModule()
			add(&cond{key: kIif, neg: neg, elems: []elem{ifaceElem(arg)}, text: t})
		case "-o", "--out-interface":
			flushModule()
			add(&cond{key: kOif, text: t})
		case "-f", "--fragment":
			flushModule()
			add(&cond{key: kConst, val: neg, text: t}) // the first packet is no fragment
		case "-m", "--match":
			flushModule()
			module = arg
		case "-j", "--jump":
			flushModule()
			target = arg
		case "-g", "--goto":
			flushModule()
			gotoChain = arg
		case "-c", "--set-counters":
		default:
			if module == "" {
				// Options of the implicit match of -p (iptables-save always
				// names it with -m, but hand-written input may not).
				module = "?"
			}
			moduleOpts = append(moduleOpts, iptOpt{name: name, args: args, neg: neg})
		}
	}
	flushModule()
	switch {
	case gotoChain != "":
		ru.exprs = append(ru.exprs, action{code: actGoto, target: gotoChain, to: chains[gotoChain]})
	case target != "":
		if target == "NOTRACK" || (target == "CT" && hasOpt(targetOpts, "--notrack")) {
			ru.exprs = append(ru.exprs, notrack{})
		}
		if target == "MARK" || (target == "CONNMARK" && hasOpt(targetOpts, "--restore-mark")) {
			ru.exprs = append(ru.exprs, iptMark(target, targetOpts))
		}
		if a, ok := iptTarget(target, targetOpts, chains); ok {
			ru.exprs = append(ru.exprs, a)
		}
	}
	c.rules = append(c.rules, ru)
	return nil
}

func ifaceElem(s string) elem {
	name := s
	if p, ok := strings.CutSuffix(s, "+"); ok {
		name = p + "*"
	}
	return elem{name: name, text: s}
}

func protoCond(arg string, neg bool, text string) *cond {
	a := strings.ToLower(arg)
	if a == "all" || a == "0" {
		return &cond{key: kConst, val: !neg, text: text}
	}
	n, ok := protoNames[a]
	if !ok {
		if u, err := strconv.ParseUint(a, 10, 8); err == nil {
			n, ok = u, true
		}
	}
	if a == "icmpv6" {
		n, ok = 58, true
	}
	if !ok {
		return &cond{key: kUnknown, why: "protocol " + arg + " is not known", text: text}
	}
	return &cond{key: kL4proto, neg: neg, elems: []elem{numElem(n, arg)}, text: text}
}

// iptAddr reads "10.0.0.0/8", "10.0.0.0/255.0.0.0" or "1.2.3.4".
func iptAddr(s string) (elem, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return elem{alo: a, ahi: a, text: s}, nil
	}
	addr, mask, ok := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if !ok || err != nil {
		return elem{}, fmt.Errorf("cannot read address %q", s)
	}
	bits, err := strconv.Atoi(mask)
	if err != nil {
		m, err := netip.ParseAddr(mask)
		if err != nil || m.BitLen() != a.BitLen() {
			return elem{}, fmt.Errorf("cannot read address %q", s)
		}
		bits = 0
		seenZero := false
		for _, byt := range m.AsSlice() {
			for j := 7; j >= 0; j-- {
				if byt&(1<<j) != 0 {
					if seenZero {
						return elem{}, fmt.Errorf("the non-contiguous mask of %q is not evaluated", s)
					}
					bits++
				} else {
					seenZero = true
				}
			}
		}
	}
	if bits < 0 || bits > a.BitLen() {
		return elem{}, fmt.Errorf("cannot read address %q", s)
	}
	e := prefixElem(netip.PrefixFrom(a, bits), s)
	return e, nil
}

// iptPorts reads "22", "1000:2000", ":1024", "1024:" and comma lists.
func iptPorts(s string) ([]elem, bool) {
	var out []elem
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		if !isRange {
			if lo == "" {
				return nil, false
			}
			hi = lo
		}
		if lo == "" {
			lo = "0"
		}
		if hi == "" {
			hi = "65535"
		}
		l, err1 := strconv.ParseUint(lo, 10, 16)
		h, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		if l > h {
			l, h = h, l
		}
		out = append(out, elem{lo: l, hi: h, text: part})
	}
	return out, len(out) > 0
}

func optText(module string, o iptOpt) string {
	t := strings.TrimSpace("-m " + module + " " + ifs(o.neg, "! ", "") + o.name + " " + strings.Join(o.args, " "))
	return t
}

// iptMatch turns the options of one -m module into matches.
func iptMatch(module string, opts []iptOpt, family int) []*cond {
	var out []*cond
	unknown := func(why, t string) { out = append(out, &cond{key: kUnknown, why: why, text: t}) }
	if len(opts) == 0 {
		switch module {
		case "comment", "tcp", "udp", "state", "conntrack", "limit", "multiport", "addrtype":
			return nil
		case "icmp", "icmp6", "icmpv6":
			return []*cond{implicit(kL4proto, ifsU(module == "icmp", 1, 58))}
		case "rpfilter":
			// An ordinary remote host passes the reverse-path check.
			return []*cond{{key: kConst, val: true, text: "-m rpfilter"}}
		}
		return []*cond{{key: kUnknown, why: "iptables match " + module + " is not evaluated", text: "-m " + module}}
	}
	switch module {
	case "rt", "frag", "hbh", "dst", "mh":
		// IPv6 extension headers: the packet has none, and these matches
		// fail without their header, whatever their options.
		return []*cond{{key: kConst, val: false, text: "-m " + module}}
	}
	for _, o := range opts {
		t := optText(module, o)
		arg := ""
		if len(o.args) > 0 {
			arg = o.args[0]
		}
		ports := func(k key) {
			es, ok := iptPorts(arg)
			if !ok {
				unknown("cannot read ports "+arg, t)
				return
			}
			out = append(out, &cond{key: k, neg: o.neg, elems: es, text: t})
		}
		switch module + " " + o.name {
		case "tcp --dport", "tcp --destination-port", "udp --dport", "udp --destination-port",
			"? --dport", "? --destination-port", "multiport --dports", "multiport --destination-ports":
			ports(kDport)
		case "tcp --sport", "tcp --source-port", "udp --sport", "udp --source-port",
			"? --sport", "? --source-port", "multiport --sports", "multiport --source-ports":
			ports(kSport)
		case "multiport --ports", "multiport --port":
			ports(kPorts)
		case "tcp --syn", "? --syn":
			// (flags & (FIN|SYN|RST|ACK)) == SYN
			out = append(out, &cond{key: kTCPFlags, neg: o.neg, masked: true, mask: 0x17, elems: []elem{numElem(0x02, "")}, text: t})
		case "tcp --tcp-flags", "? --tcp-flags":
			if len(o.args) != 2 {
				unknown("cannot read "+t, t)
				continue
			}
			mask, ok1 := tcpFlagList(o.args[0])
			comp, ok2 := tcpFlagList(o.args[1])
			if !ok1 || !ok2 {
				unknown("cannot read "+t, t)
				continue
			}
			out = append(out, &cond{key: kTCPFlags, neg: o.neg, masked: true, mask: mask, elems: []elem{numElem(comp, "")}, text: t})
		case "state --state", "conntrack --ctstate":
			var bits uint64
			for s := range strings.SplitSeq(arg, ",") {
				switch strings.ToUpper(s) {
				case "NEW":
					bits |= ctNew
				case "ESTABLISHED":
					bits |= ctEstablished
				case "RELATED":
					bits |= ctRelated
				case "INVALID":
					bits |= ctInvalid
				case "UNTRACKED":
					bits |= ctUntracked
				case "SNAT", "DNAT": // conntrack's virtual states: not for an un-NATed new packet
				default:
					unknown("conntrack state "+s+" is not known", t)
				}
			}
			out = append(out, &cond{key: kCtState, neg: o.neg, bits: true, elems: []elem{numElem(bits, arg)}, text: t})
		case "conntrack --ctdir":
			out = append(out, &cond{key: kConst, val: strings.EqualFold(arg, "ORIGINAL") != o.neg, text: t})
		case "conntrack --ctproto":
			c := protoCond(arg, o.neg, t)
			out = append(out, c)
		case "conntrack --ctorigsrc", "conntrack --ctorigdst":
			e, err := iptAddr(arg)
			if err != nil {
				unknown(err.Error(), t)
				continue
			}
			k := kSaddr
			if o.name == "--ctorigdst" {
				k = kDaddr
			}
			out = append(out, &cond{key: k, neg: o.neg, elems: []elem{e}, text: t})
		case "conntrack --ctorigdstport":
			ports(kDport)
		case "conntrack --ctorigsrcport":
			ports(kSport)
		case "comment --comment", "limit --limit", "limit --limit-burst",
			"hashlimit --hashlimit-upto", "hashlimit --hashlimit", "hashlimit --hashlimit-burst",
			"hashlimit --hashlimit-mode", "hashlimit --hashlimit-name", "hashlimit --hashlimit-htable-size",
			"hashlimit --hashlimit-htable-max", "hashlimit --hashlimit-htable-expire", "hashlimit --hashlimit-htable-gcinterval",
			"hashlimit --hashlimit-srcmask", "hashlimit --hashlimit-dstmask",
			"connlimit --connlimit-upto", "connlimit --connlimit-mask", "connlimit --connlimit-saddr", "connlimit --connlimit-daddr",
			"recent --name", "recent --seconds", "recent --hitcount", "recent --mask", "recent --rsource", "recent --rdest",
			"recent --reap", "recent --rttl", "recent --set",
			"addrtype --limit-iface-in", "addrtype --limit-iface-out",
			"rpfilter --loose", "rpfilter --validmark", "rpfilter --accept-local",
			"policy --dir", "policy --strict", "set --return-nomatch", "set --update-counters", "set --update-subcounters",
			"icmp --icmp-type", "icmp6 --icmpv6-type", "icmpv6 --icmpv6-type":
			// No effect on the first packet of a flow, or decided elsewhere.
			if module == "icmp" || module == "icmp6" || module == "icmpv6" {
				out = append(out, implicit(kL4proto, ifsU(module == "icmp", 1, 58)))
			}
		case "hashlimit --hashlimit-above", "connlimit --connlimit-above":
			// The first packet is under any limit.
			out = append(out, &cond{key: kConst, val: o.neg, text: t})
		case "recent --rcheck", "recent --update", "recent --remove":
			out = append(out, &cond{key: kSrcProp, neg: o.neg, prop: "from a source already in recent list " + recentName(opts), text: t})
		case "addrtype --dst-type", "addrtype --src-type":
			k := kDstType
			if o.name == "--src-type" {
				k = kSrcType
			}
			var es []elem
			for s := range strings.SplitSeq(arg, ",") {
				n, ok := routeTypes[strings.ToLower(s)]
				if !ok {
					unknown("address type "+s+" is not known", t)
					continue
				}
				es = append(es, numElem(n, s))
			}
			out = append(out, &cond{key: k, neg: o.neg, elems: es, text: t})
		case "pkttype --pkt-type":
			n, ok := pkttypeNames[strings.ToLower(arg)]
			if !ok {
				unknown("packet type "+arg+" is not known", t)
				continue
			}
			out = append(out, &cond{key: kPkttype, neg: o.neg, elems: []elem{numElem(n, arg)}, text: t})
		case "iprange --src-range", "iprange --dst-range":
			lo, hi, ok := strings.Cut(arg, "-")
			l, err1 := netip.ParseAddr(lo)
			h, err2 := netip.ParseAddr(hi)
			if !ok || err1 != nil || err2 != nil || l.BitLen() != h.BitLen() {
				unknown("cannot read address range "+arg, t)
				continue
			}
			k := kSaddr
			if o.name == "--dst-range" {
				k = kDaddr
			}
			out = append(out, &cond{key: k, neg: o.neg, elems: []elem{{alo: l, ahi: h, text: arg}}, text: t})
		case "set --match-set":
			if len(o.args) == 2 && o.args[1] == "src" {
				out = append(out, &cond{key: kSrcProp, neg: o.neg, prop: "from a source in ipset " + o.args[0], text: t})
			} else {
				unknown("ipset "+arg+": its members are not read", t)
			}
		case "rpfilter --invert":
			out = append(out, &cond{key: kConst, val: o.neg, text: t}) // an ordinary source passes the check
		case "policy --pol":
			out = append(out, &cond{key: kConst, val: strings.EqualFold(arg, "none") != o.neg, text: t})
		case "mark --mark":
			v, m, ok := markArg(arg)
			if !ok {
				unknown("cannot read mark "+arg, t)
				continue
			}
			out = append(out, &cond{key: kMark, neg: o.neg, masked: true, mask: m, elems: []elem{numElem(v, arg)}, why: markWhy, text: t})
		case "mac --mac-source":
			out = append(out, &cond{key: kSrcProp, neg: o.neg, prop: "from MAC address " + arg, text: t})
		default:
			unknown("iptables match "+module+" option "+o.name+" is not evaluated", t)
		}
	}
	switch module {
	case "rpfilter":
		if !hasOpt(opts, "--invert") {
			out = append(out, &cond{key: kConst, val: true, text: "-m rpfilter"})
		}
	}
	return out
}

func hasOpt(opts []iptOpt, name string) bool {
	for _, o := range opts {
		if o.name == name {
			return true
		}
	}
	return false
}

func recentName(opts []iptOpt) string {
	for _, o := range opts {
		if o.name == "--name" && len(o.args) > 0 {
			return o.args[0]
		}
	}
	return "DEFAULT"
}

func tcpFlagList(s string) (uint64, bool) {
	var n uint64
	for f := range strings.SplitSeq(strings.ToLower(s), ",") {
		switch f {
		case "all":
			n |= 0x3f
		case "none":
		default:
			v, ok := tcpFlagNames[f]
			if !ok {
				return 0, false
			}
			n |= v
		}
	}
	return n, true
}

func ifsU(c bool, a, b uint64) uint64 {
	if c {
		return a
	}
	return b
}

// iptTarget turns -j TARGET into an action; ok is false for targets
// without a verdict (LOG, MARK...), which the rule simply passes.
func iptTarget(target string, opts []iptOpt, chains map[string]*chain) (action, bool) {
	switch target {
	case "ACCEPT":
		return action{code: actAccept}, true
	case "DROP":
		return action{code: actDrop}, true
	case "REJECT":
		return action{code: actReject}, true
	case "RETURN":
		return action{code: actReturn}, true
	case "LOG", "NFLOG", "ULOG", "TRACE", "AUDIT", "MARK", "CONNMARK", "CONNSECMARK", "SECMARK", "CLASSIFY",
		"DSCP", "TOS", "TTL", "HL", "TCPMSS", "SET", "CHECKSUM", "IDLETIMER", "LED", "RATEEST", "TEE", "NOTRACK":
		return action{}, false
	case "CT": // with --notrack, the caller adds notrack
		return action{}, false
	case "DNAT", "REDIRECT", "NETMAP":
		why := target
		for _, o := range opts {
			why += " " + o.name + " " + strings.Join(o.args, " ")
		}
		return action{code: actRedirect, why: strings.TrimSpace(why)}, true
	case "SNAT", "MASQUERADE":
		return action{code: actAccept}, true
	}
	if c := chains[target]; c != nil {
		return action{code: actJump, target: target, to: c}, true
	}
	return action{code: actUnknown, why: "target " + target + " is not evaluated"}, true
}

// markArg reads "value[/mask]" (hex or decimal); the mask defaults to all
// ones.
func markArg(s string) (v, m uint64, ok bool) {
	vs, ms, hasMask := strings.Cut(s, "/")
	v, err := strconv.ParseUint(vs, 0, 32)
	if err != nil {
		return 0, 0, false
	}
	m = 1<<32 - 1
	if hasMask {
		if m, err = strconv.ParseUint(ms, 0, 32); err != nil {
			return 0, 0, false
		}
	}
	return v, m, true
}

// iptMark reads the options of -j MARK (and CONNMARK --restore-mark,
// which copies a connection mark the evaluator does not follow).
func iptMark(target string, opts []iptOpt) markSet {
	const all = 1<<32 - 1
	lost := markSet{and: all, unknown: true}
	if target != "MARK" || len(opts) != 1 || len(opts[0].args) != 1 {
		return lost
	}
	v, m, ok := markArg(opts[0].args[0])
	if !ok {
		return lost
	}
	switch opts[0].name {
	case "--set-xmark":
		return markSet{and: all &^ m, xor: v}
	case "--set-mark":
		return markSet{and: all &^ m, or: v}
	case "--and-mark":
		return markSet{and: v}
	case "--or-mark":
		return markSet{and: all, or: v}
	case "--xor-mark":
		return markSet{and: all, xor: v}
	}
	return lost
}
