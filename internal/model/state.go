package model

import "strconv"

// Proto is a transport protocol, numbered as in the IP header.
type Proto uint8

// The protocols whobinds reports.
const (
	TCP Proto = 6
	UDP Proto = 17
)

func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "proto" + strconv.Itoa(int(p))
}

// State is a socket state, numbered as Linux numbers TCP states
// (include/net/tcp_states.h); other backends map their states onto these.
// Unconnected UDP sockets are in state Close.
type State uint8

// Socket states.
const (
	StateUnknown State = iota
	Established
	SynSent
	SynRecv
	FinWait1
	FinWait2
	TimeWait
	Close
	CloseWait
	LastAck
	Listen
	Closing
	NewSynRecv
	BoundInactive // bound TCP socket that neither listens nor connects (Linux 6.5+)
)

var stateNames = [...]string{
	StateUnknown:  "UNKNOWN",
	Established:   "ESTAB",
	SynSent:       "SYN-SENT",
	SynRecv:       "SYN-RECV",
	FinWait1:      "FIN-WAIT-1",
	FinWait2:      "FIN-WAIT-2",
	TimeWait:      "TIME-WAIT",
	Close:         "UNCONN",
	CloseWait:     "CLOSE-WAIT",
	LastAck:       "LAST-ACK",
	Listen:        "LISTEN",
	Closing:       "CLOSING",
	NewSynRecv:    "NEW-SYN-RECV",
	BoundInactive: "BOUND",
}

// String names the state as ss does (LISTEN, ESTAB, UNCONN, ...).
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "STATE" + strconv.Itoa(int(s))
}

// StateMask is a set of states, bit i for State i; the kernel's
// idiag_states uses the same layout.
type StateMask uint32

// Has reports whether s is in the set.
func (m StateMask) Has(s State) bool { return m&(1<<s) != 0 }

// AllStates is every state.
const AllStates StateMask = 1<<(BoundInactive+1) - 1
