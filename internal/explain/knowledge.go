package explain

import "github.com/whobinds/whobinds/internal/kb"

// Knowledge is what whobinds knows about a port without looking at any
// host: the curated entry and the IANA assignment.
type Knowledge struct {
	Proto string
	Port  uint16
	Entry *kb.Entry   // nil when not curated
	IANA  *kb.Service // nil when not registered
}

// Known reports whether there is anything to say.
func (k Knowledge) Known() bool { return k.Entry != nil || k.IANA != nil }

// KnowledgeOf looks a port up in the knowledge base.
func KnowledgeOf(proto string, port uint16) Knowledge {
	k := Knowledge{Proto: proto, Port: port}
	if e, ok := kb.Lookup(proto, port); ok {
		k.Entry = e
	}
	if s, ok := kb.IANA(proto, port); ok {
		k.IANA = s
	}
	return k
}
