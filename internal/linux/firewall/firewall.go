// Package firewall answers, for `whobinds audit`, whether the host firewall
// lets a new inbound connection reach a local port: would a NEW TCP (or UDP)
// packet from a remote host to local address A, port P, arriving on a
// non-loopback interface, be accepted, dropped or rejected — and by which
// rule?
//
// The package holds:
//
//   - firewall.go, portable: the public types (Verdict, Packet, Decision,
//     Ruleset) and Merge.
//   - nft.go, portable: ParseNFT, a reader of `nft -j list ruleset` (the
//     libnftables JSON schema, man libnftables-json, as nft 1.0 prints it).
//   - iptables.go, portable: ParseIptablesSave, a reader of iptables-save
//     and ip6tables-save output, from either backend.
//   - eval.go, portable: the evaluator both readers feed.
//   - read_linux.go: Read and Tools, which run nft and the iptables-save
//     programs once (per audit) and merge what they show.
//
// # The model
//
// For one packet the kernel runs every base chain hooked at ingress, then
// prerouting, then input, each hook's chains in priority order, whatever
// table, family or program (nft, iptables-nft or legacy iptables) made
// them. An accept ends only its own base chain; a drop or a reject in any
// chain ends the packet. So drop wins, and the evaluator walks every base
// chain in that order — iptables' raw, mangle, nat, filter and security
// tables at their fixed priorities among them — following jump and goto,
// with the chain's policy when nothing decides.
//
// The packet is "new": ct state new (untracked after a notrack), ct status
// without dnat, ct direction original, packet type host, destination type
// local, a valid reverse path, no IPv6 extension headers, the first packet
// of its flow (under any limit, hashlimit, connlimit or ct count), and for
// TCP a SYN. Its mark is 0 on arrival when the ruleset sets marks itself
// (then the evaluator follows them, as kube-proxy's and Calico's rules
// need); when nothing in the ruleset sets marks, a mark match tests a mark
// from outside netfilter (tc, eBPF) and is undecidable.
//
// What the evaluator cannot know is who sends the packet. A rule on the
// source address, the source port, a recent list or an ipset of sources is
// decided for "an ordinary remote host" (one that no such rule names), and
// every sender the rules single out gets an evaluation of its own, reported
// in Decision.Exceptions ("from 10.0.0.0/8: accept by ..."). The same holds
// for the destination address when the Packet leaves it unspecified (a
// wildcard listener) and for the input interface when it leaves that empty.
// Packet.Src asks about one sender instead.
//
// A match the evaluator cannot decide (a mark from outside, a socket owner,
// a cgroup, ip ttl, an iptables extension it does not know, the xt matches
// whose options nft -j does not print) makes it evaluate both outcomes:
// when they agree, that is the verdict; otherwise the verdict is Unknown
// and Decision.Reason names the matches and the possible outcomes. A
// statement whose effect it cannot know (queue, tproxy, an unknown target)
// makes the verdict Unknown unless a later chain drops the packet. A DNAT
// or REDIRECT before input makes it Unknown too: the packet no longer goes
// to this port, and where it goes instead (the forward path) is not
// evaluated.
//
// Not evaluated: the bridge and arp families, hooks after input, and the
// order of chains of equal priority (the kernel orders those by
// registration; only which rule is reported can differ). nft 1.0.6 leaves
// the device of an ingress chain out of its JSON; such a chain's rules are
// undecidable unless both answers agree.
package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/whobinds/whobinds/internal/model"
)

// Errors Read wraps, for callers to branch on.
var (
	// ErrPermission: reading the firewall needs root (CAP_NET_ADMIN).
	ErrPermission = errors.New("needs root (CAP_NET_ADMIN)")
	// ErrNoTools: neither nft nor any iptables-save is installed.
	ErrNoTools = errors.New("neither nft nor iptables-save is installed")
)

// Verdict is what the firewall does with the packet.
type Verdict uint8

// The verdicts.
const (
	// Unknown: a rule the evaluator cannot decide would apply, or the
	// firewall could not be read; Decision.Reason says why.
	Unknown Verdict = iota
	// Accept: the packet reaches the socket.
	Accept
	// Drop: the packet is discarded silently; the sender times out.
	Drop
	// Reject: the packet is discarded with an answer (TCP reset or ICMP
	// error); the sender sees an error at once.
	Reject
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Drop:
		return "drop"
	case Reject:
		return "reject"
	}
	return "unknown"
}

// MarshalText gives the verdict's name, for JSON.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a verdict's name.
func (v *Verdict) UnmarshalText(b []byte) error {
	for _, c := range []Verdict{Unknown, Accept, Drop, Reject} {
		if string(b) == c.String() {
			*v = c
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q", b)
}

// Packet describes the inbound packet to evaluate.
type Packet struct {
	// Proto is the transport protocol, model.TCP or model.UDP.
	Proto model.Proto
	// Family is 4 or 6. Zero takes the family of Dst; an IPv4-mapped Dst
	// counts as IPv4.
	Family int
	// Dst is the local address the packet is sent to. An invalid or
	// unspecified address stands for "any local address": rules on the
	// destination address then become exceptions.
	Dst netip.Addr
	// DstPort is the local port.
	DstPort uint16
	// InIface is the interface the packet arrives on, e.g. "eth0". Empty
	// means some non-loopback interface: rules on the input interface then
	// become exceptions.
	InIface string
	// Src is the sender's address, when one sender is meant. Invalid (the
	// usual case) means an ordinary remote host: one that no rule names,
	// with the senders the rules single out as exceptions.
	Src netip.Addr
}

// Decision is the firewall's answer for one Packet.
type Decision struct {
	Verdict Verdict
	// Rule is the rule that decided, as text for people, prefixed with its
	// table and chain: "inet filter input: tcp dport 22 accept",
	// "filter INPUT: -p tcp -m tcp --dport 22 -j ACCEPT", or a chain's
	// policy: "inet filter input: policy drop". For Unknown it is the rule
	// holding the undecidable match. Empty when no rule was involved.
	Rule string
	// Source is the program whose rule decided: "nftables", "iptables"
	// (legacy x_tables, from iptables-save) or "iptables-nft" (nftables
	// tables written by iptables-nft, read back with iptables-nft-save).
	Source string
	// Reason explains the verdict in a sentence.
	Reason string
	// Exceptions lists the sources (and, when the Packet leaves them open,
	// destinations and interfaces) that rules single out and that get a
	// different verdict, e.g. "from 10.0.0.0/8: accept by inet filter
	// input: ip saddr 10.0.0.0/8 tcp dport 5432 accept".
	Exceptions []string
}

// A Ruleset is a firewall configuration read from nft or iptables-save,
// ready to evaluate packets against. It is immutable after parsing, and safe
// for concurrent use.
type Ruleset struct {
	chains []*chain // every chain, base or not, in the order read
	bases  []*chain // base chains hooked at ingress, prerouting or input, in hook and priority order
	// tables counts the tables read: zero with no unread parts means there
	// is no firewall at all.
	tables int
	// marks is set when a rule sets packet marks: the ruleset then owns
	// them, and a packet is taken to arrive with mark 0. Without it, a
	// mark match tests a mark set outside netfilter (tc, eBPF, another
	// program) and cannot be decided.
	marks bool
}

// Merge combines rulesets read from different programs into one, whose
// evaluation runs the base chains of all of them in hook and priority
// order, as the kernel does. Nil rulesets are skipped.
func Merge(sets ...*Ruleset) *Ruleset {
	m := &Ruleset{}
	for _, s := range sets {
		if s == nil {
			continue
		}
		m.chains = append(m.chains, s.chains...)
		m.tables += s.tables
	}
	m.index()
	return m
}

// index rebuilds bases and marks from chains.
func (r *Ruleset) index() {
	r.bases = r.bases[:0]
	r.marks = false
	for _, c := range r.chains {
		if c.base && c.hook != hookNone {
			r.bases = append(r.bases, c)
		}
		for _, ru := range c.rules {
			for _, e := range ru.exprs {
				if _, ok := e.(markSet); ok {
					r.marks = true
				}
			}
		}
	}
	slices.SortStableFunc(r.bases, func(a, b *chain) int {
		if a.hook != b.hook {
			return int(a.hook) - int(b.hook)
		}
		switch {
		case a.prio < b.prio:
			return -1
		case a.prio > b.prio:
			return 1
		}
		return 0
	})
}

// unreadable returns a ruleset that evaluates to Unknown with the reason,
// for a part of the firewall that could not be read: a rule elsewhere that
// drops the packet still decides, since drop wins.
func unreadable(source string, family int, why string) *Ruleset {
	c := &chain{source: source, base: true, hook: hookInput, policy: action{code: actAccept}}
	switch family {
	case 4:
		c.family = "ip"
	case 6:
		c.family = "ip6"
	default:
		c.family = "inet"
	}
	c.rules = []*rule{{chain: c, exprs: []expr{action{code: actUnknown, why: why}}}}
	return &Ruleset{chains: []*chain{c}, tables: 1}
}

// adopt replaces the nft tables of the family ("ip" or "ip6") that an
// iptables-nft-save ruleset shows by that ruleset: the same rules, with the
// options of the xt matches and targets that nft -j leaves out. The chains
// keep the hooks and priorities nft reports for them.
func (r *Ruleset) adopt(ipt *Ruleset, family string) {
	tables := map[string]bool{}
	for _, c := range ipt.chains {
		tables[c.table] = true
	}
	type where struct {
		hook hook
		prio int
	}
	hooks := map[string]where{}
	kept := r.chains[:0:0]
	replaced := map[string]bool{}
	for _, c := range r.chains {
		if c.family == family && tables[c.table] {
			if c.base {
				hooks[c.table+"\x00"+c.name] = where{c.hook, c.prio}
			}
			replaced[c.table] = true
			continue
		}
		kept = append(kept, c)
	}
	for _, c := range ipt.chains {
		if w, ok := hooks[c.table+"\x00"+c.name]; ok && c.base {
			c.hook, c.prio = w.hook, w.prio
		}
	}
	r.chains = append(kept, ipt.chains...)
	r.tables += ipt.tables - len(replaced)
	r.index()
}
