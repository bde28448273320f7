package firewall

// This file is the evaluator shared by the nft and iptables readers: the
// chains, rules and matches they build, and the walk of one packet over
// them.
//
// A run is one walk of the packet over every base chain, with fixed answers
// for the matches nothing can decide (assign) and at most one exception (a
// source, destination or interface that the rules single out). A run that
// meets an undecidable match without an answer stops and names it; the
// solver then runs twice more, once with each answer, and compares.

import (
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"
)

// Limits that keep a pathological ruleset from running away.
const (
	maxDepth      = 64      // nested jumps (the kernel allows 16 for nft)
	maxSteps      = 1000000 // rules visited in one Evaluate, over all its runs
	maxRuns       = 256     // runs for one Evaluate
	maxCandidates = 32      // exceptions tried for one Evaluate
	maxElemCands  = 8       // exceptions taken from one match's set
)

// The ephemeral ports Linux picks source ports from
// (net.ipv4.ip_local_port_range): an ordinary client's source port.
const ephemeralLo, ephemeralHi = 32768, 60999

// Conntrack state bits, as nft numbers them (include/uapi/linux/netfilter/
// nf_conntrack_common.h: NF_CT_STATE_BIT and IP_CT_*).
const (
	ctInvalid     = 1
	ctEstablished = 2
	ctRelated     = 4
	ctNew         = 8
	ctUntracked   = 64
)

// Route types (include/uapi/linux/rtnetlink.h, RTN_*), for fib daddr type
// and the addrtype match.
const (
	rtnUnicast = 1
	rtnLocal   = 2
)

// A hook is where a base chain is attached, in the order a packet meets
// them.
type hook uint8

const (
	hookNone hook = iota
	hookIngress
	hookPrerouting
	hookInput
)

// A chain is an nft chain or an iptables chain.
type chain struct {
	source string // "nftables", "iptables", "iptables-nft"
	// family is the nft family ("inet", "ip", "ip6", "netdev", ...); an
	// iptables chain has "ip" or "ip6".
	family      string
	table, name string
	label       string // "inet filter input", "filter INPUT"
	base        bool
	hook        hook
	prio        int
	policy      action // base chains: accept or drop
	policyText  string // "policy drop"
	dev         *cond  // ingress chains: the device match; nil: every device
	rules       []*rule
}

func (c *chain) applies(fam int) bool {
	switch c.family {
	case "ip":
		return fam == 4
	case "ip6":
		return fam == 6
	case "inet", "netdev":
		return true
	}
	return false
}

// A rule is a sequence of matches and statements, run in order.
type rule struct {
	chain *chain
	text  string // the rule as written, without its chain: "tcp dport 22 accept"
	exprs []expr // *cond, action, *vmap or notrack
}

func (r *rule) String() string {
	if r.text == "" {
		return r.chain.label
	}
	return r.chain.label + ": " + r.text
}

type expr any

// notrack is the notrack statement: the packet's ct state becomes untracked.
type notrack struct{}

// A markSet is a statement that changes the packet's mark (nft meta mark
// set, iptables -j MARK): mark = ((mark & and) | or) ^ xor. Unknown when
// the new mark is not a constant (meta mark set ct mark, CONNMARK
// --restore-mark, an xt target whose options nft -j hides).
type markSet struct {
	and, or, xor uint64
	unknown      bool
}

func (m markSet) apply(mark uint64) uint64 { return ((mark & m.and) | m.or) ^ m.xor }

type actCode uint8

const (
	actNone actCode = iota // the rule does not decide; go on
	actAccept
	actDrop
	actReject
	actReturn
	actJump
	actGoto
	actRedirect // DNAT or REDIRECT: the packet goes elsewhere; why says where
	actUnknown  // a statement whose effect cannot be known; why says which
)

// An action is a verdict statement.
type action struct {
	code   actCode
	target string // jump, goto: the chain's name
	to     *chain // jump, goto: the chain, once resolved
	why    string
}

// A key is what a match reads from the packet.
type key uint8

const (
	kUnknown  key = iota // a match the evaluator cannot decide; cond.why says why
	kConst               // always cond.val
	kFamily              // nfproto: 2 for IPv4, 10 for IPv6
	kL4proto             // IP protocol number
	kDport               // destination port
	kSport               // source port (symbolic)
	kPorts               // iptables multiport --ports: destination or source port
	kDaddr               // destination address (symbolic when Packet.Dst is unspecified)
	kSaddr               // source address (symbolic)
	kIif                 // input interface name (symbolic when Packet.InIface is empty)
	kOif                 // output interface: there is none on input, the match fails
	kCtState             // conntrack state bits
	kCtStatus            // conntrack status bits: none for a new, un-NATed packet
	kCtDir               // conntrack direction: 0, original
	kPkttype             // packet type: 0, host
	kDstType             // route type of the destination: local
	kSrcType             // route type of the source: unicast
	kRPF                 // reverse path: 1, a route back exists
	kTCPFlags            // TCP flags: SYN
	kSrcProp             // a property of the source (symbolic): in a recent list, an ipset...
	kConcat              // a concatenation of keys (cond.parts)
	kMark                // the packet's mark (meta mark, -m mark): see Ruleset.marks
)

// symbolic reports whether the key's value depends on who sends the
// packet.
func (k key) symbolic(p *pkt) bool {
	switch k {
	case kSport, kSrcProp:
		return true
	case kSaddr:
		return !p.src.IsValid()
	case kDaddr:
		return !p.dst.IsValid()
	case kIif:
		return p.iif == ""
	}
	return false
}

// symbolic reports whether the match depends on who sends the packet (or,
// when the Packet leaves them open, on its destination or interface).
func (c *cond) symbolic(p *pkt) bool {
	switch c.key {
	case kConcat:
		for _, k := range c.parts {
			if k.symbolic(p) {
				return true
			}
		}
		return false
	case kPorts:
		return true
	}
	return c.key.symbolic(p)
}

// A cond is one match.
type cond struct {
	key    key
	neg    bool   // "!=" or iptables "!"
	bits   bool   // nft "in" on flags: (value & elem) != 0
	masked bool   // the value is (key & mask)
	mask   uint64 //
	elems  []elem // the right-hand side: one value, a range, a prefix, a set
	parts  []key  // kConcat: the keys, one per part of each elem
	val    bool   // kConst: the value
	prop   string // kSrcProp: the property, phrased as an exception: "from a source in ipset x"
	why    string // kUnknown: why it cannot be decided
	text   string // the match as written
	rule   *rule
}

// An elem is one element of a match's right-hand side.
type elem struct {
	lo, hi   uint64     // numeric keys: an inclusive range
	alo, ahi netip.Addr // addresses: an inclusive range
	name     string     // interface names: a trailing "*" is a wildcard
	parts    []elem     // concatenations
	text     string
}

func numElem(n uint64, text string) elem { return elem{lo: n, hi: n, text: text} }

func prefixElem(p netip.Prefix, text string) elem {
	p = p.Masked()
	lo := p.Addr()
	hi := lo.As16()
	bits := p.Bits()
	off := 0
	if lo.Is4() {
		off = 96
	}
	for i := off + bits; i < 128; i++ {
		hi[i/8] |= 0x80 >> (i % 8)
	}
	h := netip.AddrFrom16(hi)
	if lo.Is4() {
		h = h.Unmap()
	}
	return elem{alo: lo, ahi: h, text: text}
}

// coversAll reports whether an address element holds every address of the
// family.
func (e *elem) coversAll(fam int) bool {
	if !e.alo.IsValid() || e.alo.Is4() != (fam == 4) {
		return false
	}
	full := prefixElem(netip.PrefixFrom(e.alo, 0), "")
	return e.alo == full.alo && e.ahi == full.ahi
}

func (e *elem) match(k key, v val, fam int) bool {
	switch k {
	case kDaddr, kSaddr:
		if v.sym {
			return e.coversAll(fam)
		}
		return e.alo.IsValid() && e.alo.BitLen() == v.a.BitLen() &&
			e.alo.Compare(v.a) <= 0 && v.a.Compare(e.ahi) <= 0
	case kIif:
		if v.sym {
			return e.name == "*"
		}
		return ifaceMatch(e.name, v.s)
	case kSport:
		if v.sym {
			return e.lo <= ephemeralLo && e.hi >= ephemeralHi
		}
	}
	return e.lo <= v.n && v.n <= e.hi
}

// ifaceMatch matches an interface name against a pattern whose trailing
// "*" matches any suffix (nft "eth*", iptables "eth+").
func ifaceMatch(pattern, name string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return pattern == name
}

// A vmap is a verdict map: the action of the first element the key
// matches; no element matching ends the rule.
type vmap struct {
	c    *cond // key and elements; neg, bits unused
	acts []action
	text string
}

// val is the value of a key for the packet.
type val struct {
	sym bool // the symbolic value of an ordinary source (or any destination or interface)
	n   uint64
	a   netip.Addr
	s   string
}

// pkt is a normalized Packet.
type pkt struct {
	proto uint64
	fam   int
	dst   netip.Addr // invalid: any local address
	dport uint64
	iif   string     // empty: any non-loopback interface
	src   netip.Addr // invalid: an ordinary remote host
}

func normalize(p Packet) (pkt, string) {
	dst := p.Dst
	if dst.Is4In6() {
		dst = dst.Unmap()
	}
	fam := p.Family
	if fam == 0 && dst.IsValid() {
		fam = 6
		if dst.Is4() {
			fam = 4
		}
	}
	if fam != 4 && fam != 6 {
		return pkt{}, "the packet has no address family: set Packet.Family or Packet.Dst"
	}
	if dst.IsUnspecified() {
		dst = netip.Addr{}
	}
	if dst.IsValid() && dst.Is4() != (fam == 4) {
		return pkt{}, fmt.Sprintf("the destination %v is not an IPv%d address", dst, fam)
	}
	src := p.Src.Unmap()
	if src.IsValid() && src.Is4() != (fam == 4) {
		return pkt{}, fmt.Sprintf("the source %v is not an IPv%d address", src, fam)
	}
	return pkt{proto: uint64(p.Proto), fam: fam, dst: dst, dport: uint64(p.DstPort), iif: p.InIface, src: src}, ""
}

// An exception is a sender (or destination, or interface) that the rules
// single out, with the value the symbolic key takes for it.
type exception struct {
	key  key
	v    val
	prop string // kSrcProp
	text string // "from 10.0.0.0/8"
}

func candidate(k key, e *elem, fam int) (exception, bool) {
	switch k {
	case kSaddr, kDaddr:
		if !e.alo.IsValid() || e.alo.Is4() != (fam == 4) || e.coversAll(fam) {
			return exception{}, false
		}
		prefix := "from "
		if k == kDaddr {
			prefix = "to "
		}
		return exception{key: k, v: val{a: e.alo}, text: prefix + e.text}, true
	case kSport:
		return exception{key: k, v: val{n: e.lo}, text: "from source port " + e.text}, true
	case kIif:
		if e.name == "lo" || e.name == "*" {
			return exception{}, false
		}
		return exception{key: k, v: val{s: e.name}, text: "arriving on " + e.name}, true
	}
	return exception{}, false
}

// result is the outcome of one run.
type result struct {
	policy bool // decided by a chain's policy
	hook   hook // of the deciding chain
	prio   int  //
	v      Verdict
	rule   string
	source string
	reason string
}

type run struct {
	rs     *Ruleset
	p      *pkt
	exc    *exception
	assign map[*cond]bool
	branch *cond // set when the run met an undecidable match without an answer
	// collect receives the exceptions a main run meets; nil in exception runs.
	collect func(exception)
	quiet   bool // do not collect (the pre-pass of a rule)
	ct      uint64
	// mark is the packet's mark: 0 on arrival, as far as the ruleset
	// knows; markLost once a statement set it to something unknown.
	mark     uint64
	markLost bool
	steps    *int // shared by the runs of one Evaluate
}

// markKnown reports whether mark matches can be decided: the ruleset sets
// marks itself (so it owns them) and none was set to an unknown value.
func (r *run) markKnown() bool { return r.rs.marks && !r.markLost }

func (r *run) value(k key) val {
	if r.exc != nil && r.exc.key == k && k != kSrcProp {
		return r.exc.v
	}
	switch k {
	case kFamily:
		if r.p.fam == 4 {
			return val{n: 2}
		}
		return val{n: 10}
	case kL4proto:
		return val{n: r.p.proto}
	case kDport:
		return val{n: r.p.dport}
	case kDaddr:
		if r.p.dst.IsValid() {
			return val{a: r.p.dst}
		}
		return val{sym: true}
	case kIif:
		if r.p.iif != "" {
			return val{s: r.p.iif}
		}
		return val{sym: true}
	case kSaddr:
		if r.p.src.IsValid() {
			return val{a: r.p.src}
		}
		return val{sym: true}
	case kSport:
		return val{sym: true}
	case kCtState:
		return val{n: r.ct}
	case kDstType:
		return val{n: rtnLocal}
	case kSrcType:
		return val{n: rtnUnicast}
	case kRPF:
		return val{n: 1}
	case kTCPFlags:
		if r.p.proto == 6 {
			return val{n: 0x02} // SYN
		}
	case kMark:
		return val{n: r.mark}
	}
	// kCtStatus, kCtDir, kPkttype: zero.
	return val{}
}

func (r *run) gather(k key, elems []elem) {
	if r.collect == nil || r.quiet {
		return
	}
	for i := range elems {
		if i == maxElemCands {
			break
		}
		if e, ok := candidate(k, &elems[i], r.p.fam); ok {
			r.collect(e)
		}
	}
}

// find returns the index of the first element of c that the packet's value
// matches, or -1.
func (r *run) find(c *cond) int {
	if c.key == kConcat {
		vals := make([]val, len(c.parts))
		for i, k := range c.parts {
			vals[i] = r.value(k)
		}
		// The exceptions of an element whose other parts match.
	elems:
		for j := range c.elems {
			e := &c.elems[j]
			if len(e.parts) != len(c.parts) {
				continue
			}
			for i, k := range c.parts {
				if !vals[i].sym && !e.parts[i].match(k, vals[i], r.p.fam) {
					continue elems
				}
			}
			for i, k := range c.parts {
				if vals[i].sym {
					r.gather(k, e.parts[i:i+1])
				}
			}
		}
	next:
		for j := range c.elems {
			e := &c.elems[j]
			if len(e.parts) != len(c.parts) {
				continue
			}
			for i, k := range c.parts {
				if !e.parts[i].match(k, vals[i], r.p.fam) {
					continue next
				}
			}
			return j
		}
		return -1
	}
	k := c.key
	if k == kPorts {
		k = kDport
	}
	v := r.value(k)
	if v.sym {
		r.gather(k, c.elems)
	}
	if c.masked {
		v.n &= c.mask
	}
	for i := range c.elems {
		e := &c.elems[i]
		if c.bits {
			if v.n&e.lo != 0 {
				return i
			}
			continue
		}
		if e.match(k, v, r.p.fam) {
			return i
		}
	}
	if c.key == kPorts { // the source port, then
		v := r.value(kSport)
		if v.sym {
			r.gather(kSport, c.elems)
		}
		for i := range c.elems {
			if c.elems[i].match(kSport, v, r.p.fam) {
				return i
			}
		}
	}
	return -1
}

// test decides a match. For an undecidable match without an answer it sets
// r.branch and returns false.
func (r *run) test(c *cond) bool {
	switch c.key {
	case kMark:
		if r.markKnown() {
			break
		}
		fallthrough
	case kUnknown:
		v, ok := r.assign[c]
		if !ok {
			r.branch = c
			return false
		}
		return v
	case kConst:
		return c.val
	case kOif:
		return false
	case kSrcProp:
		has := r.exc != nil && r.exc.key == kSrcProp && r.exc.prop == c.prop
		if !has && r.collect != nil && !r.quiet {
			r.collect(exception{key: kSrcProp, prop: c.prop, text: c.prop})
		}
		return has != c.neg
	}
	return (r.find(c) >= 0) != c.neg
}

// rule runs one rule and returns its action (actNone when it does not
// decide).
func (r *run) rule(ru *rule) action {
	// A match that is false whatever the undecidable ones say ends the rule
	// before anything is branched on.
	// Symbolic matches are left to the second pass, which collects the
	// exceptions they name only for rules that could otherwise match.
	r.quiet = true
	for _, e := range ru.exprs {
		if c, ok := e.(*cond); ok && c.key != kUnknown && (c.key != kMark || r.markKnown()) && !c.symbolic(r.p) && !r.test(c) {
			r.quiet = false
			return action{}
		}
	}
	r.quiet = false
	for _, e := range ru.exprs {
		switch e := e.(type) {
		case *cond:
			if !r.test(e) {
				return action{}
			}
		case action:
			return e
		case *vmap:
			if e.c.key == kUnknown || (e.c.key == kMark && !r.markKnown()) {
				return action{code: actUnknown, why: e.c.why}
			}
			if i := r.find(e.c); i >= 0 {
				return e.acts[i]
			}
			return action{}
		case notrack:
			r.ct = ctUntracked
		case markSet:
			if e.unknown {
				r.markLost = true
			}
			r.mark = e.apply(r.mark)
		}
	}
	return action{}
}

// walk runs a chain; it returns the deciding action and rule, or actNone
// or actReturn when the chain ends without a verdict.
func (r *run) walk(c *chain, depth int) (action, *rule) {
	if depth > maxDepth {
		return action{code: actUnknown, why: fmt.Sprintf("jumps nest deeper than %d chains", maxDepth)}, nil
	}
	for _, ru := range c.rules {
		*r.steps++
		if *r.steps > maxSteps {
			return action{code: actUnknown, why: fmt.Sprintf("the ruleset is too large to evaluate in full (more than %d rule visits)", maxSteps)}, ru
		}
		a := r.rule(ru)
		if r.branch != nil {
			return action{}, nil
		}
		switch a.code {
		case actNone:
			continue
		case actReturn:
			return a, ru
		case actJump, actGoto:
			if a.to == nil {
				return action{code: actUnknown, why: fmt.Sprintf("%s to a chain that does not exist: %s", jumpWord(a.code), a.target)}, ru
			}
			sub, sr := r.walk(a.to, depth+1)
			if r.branch != nil {
				return action{}, nil
			}
			if sub.code == actNone || sub.code == actReturn {
				if a.code == actGoto {
					return action{code: actReturn}, ru
				}
				continue
			}
			return sub, sr
		default:
			return a, ru
		}
	}
	return action{}, nil
}

func jumpWord(c actCode) string {
	if c == actGoto {
		return "goto"
	}
	return "jump"
}

// evaluate runs the packet over every base chain.
func (r *run) evaluate() result {
	var accepted []result
	var unknown *result
	applied := 0
	for _, c := range r.rs.bases {
		if !c.applies(r.p.fam) {
			continue
		}
		if c.dev != nil {
			ok := r.test(c.dev)
			if r.branch != nil {
				return result{}
			}
			if !ok {
				continue
			}
		}
		applied++
		a, ru := r.walk(c, 0)
		if r.branch != nil {
			return result{}
		}
		policy := false
		if a.code == actNone || a.code == actReturn {
			a, ru, policy = c.policy, nil, true
		}
		res := result{source: c.source, policy: policy, hook: c.hook, prio: c.prio}
		switch {
		case ru != nil:
			res.rule = ru.String()
		case policy:
			res.rule = c.label + ": " + c.policyText
		}
		switch a.code {
		case actAccept:
			res.v = Accept
			if policy {
				res.reason = fmt.Sprintf("no rule of %s decides, and its policy accepts", c.label)
			} else {
				res.reason = "a rule accepts it"
			}
			accepted = append(accepted, res)
		case actDrop:
			res.v = Drop
			if policy {
				res.reason = fmt.Sprintf("no rule of %s accepts it, and its policy drops", c.label)
			} else {
				res.reason = "a rule drops it: the sender times out"
			}
			return res
		case actReject:
			res.v = Reject
			res.reason = "a rule rejects it: the sender gets an error at once"
			return res
		case actRedirect:
			res.v = Unknown
			res.reason = fmt.Sprintf("a rule redirects it (%s), so it does not reach this port; where it goes instead is not evaluated", a.why)
			if unknown != nil {
				return *unknown
			}
			return res
		default:
			if unknown == nil {
				res.v = Unknown
				res.reason = a.why
				unknown = &res
			}
		}
	}
	if unknown != nil {
		return *unknown
	}
	if applied == 0 {
		return result{v: Accept, reason: fmt.Sprintf("no chain filters inbound IPv%d traffic (none is hooked at ingress, prerouting or input): everything is accepted", r.p.fam)}
	}
	// The first rule that accepts it; with none, the policy of the input
	// chain closest to the filter priority (0): filter INPUT, usually.
	best := accepted[0]
	dist := func(r result) int {
		if r.hook != hookInput {
			return math.MaxInt
		}
		return max(r.prio, -r.prio)
	}
	for _, a := range accepted[1:] {
		if dist(a) < dist(best) {
			best = a
		}
	}
	for _, a := range accepted {
		if !a.policy {
			best = a
			break
		}
	}
	if len(accepted) > 1 {
		best.reason += fmt.Sprintf("; all %d base chains it passes let it through", len(accepted))
	}
	return best
}

// A solver evaluates one packet, branching on undecidable matches and
// trying the exceptions the rules name.
type solver struct {
	rs    *Ruleset
	p     pkt
	runs  int
	steps int
	cands []exception
	seen  map[string]bool
}

func (s *solver) add(e exception) {
	id := fmt.Sprint(e.key, "\x00", e.text)
	if s.seen[id] || len(s.cands) >= maxCandidates {
		return
	}
	s.seen[id] = true
	s.cands = append(s.cands, e)
}

// solve evaluates the packet with the given answers to undecidable
// matches, branching on every further one it meets. When every branch ends
// in the same verdict, that is the result (the branch where all the
// undecidable matches fail, which is the most ordinary one); otherwise the
// result is Unknown, naming the matches and the possible outcomes.
func (s *solver) solve(exc *exception, assign map[*cond]bool) result {
	var leaves []result
	var undecided []*cond
	truncated := false
	// walk returns the set of verdicts below it, as bits. A match matters
	// when its two answers lead to different sets.
	var walk func(assign map[*cond]bool) uint
	walk = func(assign map[*cond]bool) uint {
		s.runs++
		r := &run{rs: s.rs, p: &s.p, exc: exc, assign: assign, ct: ctNew, steps: &s.steps}
		if exc == nil {
			r.collect = s.add
		}
		res := r.evaluate()
		c := r.branch
		if c == nil {
			leaves = append(leaves, res)
			return 1 << res.v
		}
		if s.runs+2 > maxRuns {
			truncated = true
			if !slices.Contains(undecided, c) {
				undecided = append(undecided, c)
			}
			leaves = append(leaves, result{v: Unknown})
			return 1 << Unknown
		}
		var sets [2]uint
		for i, v := range []bool{false, true} {
			next := maps.Clone(assign)
			if next == nil {
				next = map[*cond]bool{}
			}
			next[c] = v
			sets[i] = walk(next)
		}
		if sets[0] != sets[1] && !slices.Contains(undecided, c) {
			undecided = append(undecided, c)
		}
		return sets[0] | sets[1]
	}
	walk(assign)
	first := leaves[0]
	same := first.v != Unknown
	for _, l := range leaves[1:] {
		same = same && l.v == first.v
	}
	if same || len(undecided) == 0 {
		return first
	}
	var conds, outcomes []string
	for _, c := range undecided {
		conds = append(conds, fmt.Sprintf("%q in %s (%s)", c.text, c.rule.chain.label, c.why))
	}
	for _, l := range leaves {
		if b := l.brief(); !slices.Contains(outcomes, b) {
			outcomes = append(outcomes, b)
		}
	}
	reason := "the outcome depends on what the evaluator cannot decide: " + listSome(conds, 4) +
		". Possible outcomes: " + listSome(outcomes, 4)
	if truncated {
		reason += " (and more, not evaluated)"
	}
	c := undecided[0]
	return result{v: Unknown, rule: c.rule.String(), source: c.rule.chain.source, reason: reason}
}

// listSome joins the first n items and counts the rest.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:n], "; ") + fmt.Sprintf("; and %d more", len(items)-n)
}

func (r result) brief() string {
	switch {
	case r.v == Unknown && r.reason != "":
		return "unknown (" + r.reason + ")"
	case r.v == Unknown:
		return "unknown"
	case r.rule == "":
		return r.v.String()
	}
	return r.v.String() + " by " + r.rule
}

// Evaluate decides what the firewall does with a new inbound packet.
func (r *Ruleset) Evaluate(p Packet) Decision {
	pk, bad := normalize(p)
	if bad != "" {
		return Decision{Verdict: Unknown, Reason: bad}
	}
	if r == nil || (len(r.chains) == 0 && r.tables == 0) {
		return Decision{Verdict: Accept, Reason: "no firewall rules: everything is accepted"}
	}
	s := &solver{rs: r, p: pk, seen: map[string]bool{}}
	main := s.solve(nil, nil)
	d := Decision{Verdict: main.v, Rule: main.rule, Source: main.source, Reason: main.reason}
	for i := range s.cands {
		if s.runs >= maxRuns || s.steps >= maxSteps {
			d.Reason += fmt.Sprintf(" (%d more sources the rules name were not evaluated)", len(s.cands)-i)
			break
		}
		e := s.cands[i]
		res := s.solve(&e, nil)
		if res.v == main.v {
			continue
		}
		text := e.text + ": " + res.v.String()
		switch {
		case res.v == Unknown:
			text += " (" + res.reason + ")"
		case res.rule != "":
			text += " by " + res.rule
		}
		d.Exceptions = append(d.Exceptions, text)
	}
	return d
}
