package main

// This file holds the portable part of loadgen: how the scenario's listeners,
// connections and filler fds are shared out among the children. It touches no
// OS, so its invariants are tested on any machine.

import (
	"errors"
	"fmt"
	"math"
)

// plan says what every child holds once the scenario is built.
type plan struct {
	children []childPlan
	// targetListener is the index of the listener the harness queries: the
	// one owned by the middle child, so that about half of the children come
	// before its owner in /proc order.
	targetListener int
	targetChild    int
	targetPort     int
}

// childPlan is one child's share of the scenario.
type childPlan struct {
	listen  []int // TCP ports this child listens on (127.0.0.1)
	accept  int   // connections this child must accept on those listeners
	connect []int // one outgoing connection to each entry (ports may repeat)
}

// makePlan shares listeners TCP listeners and conns established connections
// among children children. Listener k listens on portBase+k and belongs to
// child k*children/listeners, so listeners are spread evenly. Connection j
// goes to listener j%listeners; its client end sits in child j%children, or in
// the next child when that one owns the listener, so the two ends of every
// connection are always in different children.
func makePlan(children, listeners, conns, portBase int) (plan, error) {
	switch {
	case children < 1:
		return plan{}, fmt.Errorf("children = %d; want at least 1", children)
	case listeners < 0 || conns < 0:
		return plan{}, errors.New("listeners and conns must not be negative")
	case conns > 0 && listeners == 0:
		return plan{}, fmt.Errorf("%d connections need at least one listener", conns)
	case conns > 0 && children < 2:
		return plan{}, errors.New("connections need at least 2 children: the two ends sit in different children")
	case portBase < 1 || portBase+listeners-1 > math.MaxUint16:
		return plan{}, fmt.Errorf("ports %d-%d are out of range", portBase, portBase+listeners-1)
	}
	p := plan{children: make([]childPlan, children), targetListener: -1, targetChild: -1}
	owner := func(k int) int { return k * children / listeners }
	for k := range listeners {
		c := &p.children[owner(k)]
		c.listen = append(c.listen, portBase+k)
	}
	for j := range conns {
		k := j % listeners
		server := owner(k)
		client := j % children
		if client == server {
			client = (client + 1) % children
		}
		p.children[server].accept++
		p.children[client].connect = append(p.children[client].connect, portBase+k)
	}
	if listeners > 0 {
		p.targetListener = listeners / 2
		p.targetChild = owner(p.targetListener)
		p.targetPort = portBase + p.targetListener
	}
	return p, nil
}

// fillerSplit divides m filler fds into about 50% regular files, 40% unix
// socketpair ends (always an even number, both ends of each pair are held)
// and 10% UDP sockets.
func fillerSplit(m int) (files, unixEnds, udp int) {
	if m <= 0 {
		return 0, 0, 0
	}
	unixEnds = 2 * int(math.Round(float64(m)*0.2))
	udp = int(math.Round(float64(m) * 0.1))
	for unixEnds+udp > m {
		if unixEnds >= 2 {
			unixEnds -= 2
		} else {
			udp--
		}
	}
	return m - unixEnds - udp, unixEnds, udp
}
