package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMakePlanScenarios(t *testing.T) {
	tests := []struct {
		name                          string
		children, listeners, conns    int
		wantTargetChild, wantMaxConns int
	}{
		{name: "small", children: 200, listeners: 50, conns: 500, wantTargetChild: 100},
		{name: "big", children: 2000, listeners: 500, conns: 20000, wantTargetChild: 1000},
		{name: "more listeners than children", children: 3, listeners: 10, conns: 7, wantTargetChild: 1},
		{name: "two children", children: 2, listeners: 1, conns: 5, wantTargetChild: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const base = 20000
			p, err := makePlan(tt.children, tt.listeners, tt.conns, base)
			if err != nil {
				t.Fatalf("makePlan(%d, %d, %d) = %v; want no error", tt.children, tt.listeners, tt.conns, err)
			}
			if len(p.children) != tt.children {
				t.Fatalf("len(children) = %d; want %d", len(p.children), tt.children)
			}
			owner := map[int]int{} // port -> child
			var accepts, connects int
			for i, c := range p.children {
				for _, port := range c.listen {
					if prev, dup := owner[port]; dup {
						t.Errorf("port %d held by children %d and %d; want one owner", port, prev, i)
					}
					owner[port] = i
				}
				accepts += c.accept
				connects += len(c.connect)
			}
			if len(owner) != tt.listeners {
				t.Errorf("listeners = %d; want %d", len(owner), tt.listeners)
			}
			if accepts != tt.conns || connects != tt.conns {
				t.Errorf("accepts, connects = %d, %d; want %d each", accepts, connects, tt.conns)
			}
			// Every connection's ends sit in different children, and each
			// server child accepts exactly what is dialled to its ports.
			wantAccept := make([]int, tt.children)
			for i, c := range p.children {
				for _, port := range c.connect {
					srv, ok := owner[port]
					if !ok {
						t.Fatalf("child %d dials port %d; no child listens there", i, port)
					}
					if srv == i {
						t.Errorf("child %d dials its own listener %d; want the ends in different children", i, port)
					}
					wantAccept[srv]++
				}
			}
			for i, c := range p.children {
				if c.accept != wantAccept[i] {
					t.Errorf("child %d accept = %d; want %d", i, c.accept, wantAccept[i])
				}
			}
			if p.targetChild != tt.wantTargetChild {
				t.Errorf("targetChild = %d; want %d", p.targetChild, tt.wantTargetChild)
			}
			if owner[p.targetPort] != p.targetChild {
				t.Errorf("target port %d owned by child %d; want target child %d", p.targetPort, owner[p.targetPort], p.targetChild)
			}
		})
	}
}

func TestMakePlanErrors(t *testing.T) {
	tests := []struct {
		name                                 string
		children, listeners, conns, portBase int
	}{
		{"no children", 0, 1, 0, 20000},
		{"conns without listeners", 5, 0, 3, 20000},
		{"conns with one child", 1, 1, 1, 20000},
		{"ports past 65535", 5, 100, 0, 65500},
		{"negative", 5, -1, 0, 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := makePlan(tt.children, tt.listeners, tt.conns, tt.portBase); err == nil {
				t.Errorf("makePlan(%d, %d, %d, %d) = nil error; want an error", tt.children, tt.listeners, tt.conns, tt.portBase)
			}
		})
	}
}

func TestFillerSplit(t *testing.T) {
	tests := []struct {
		m                    int
		files, unixEnds, udp int
	}{
		{0, 0, 0, 0},
		{1, 1, 0, 0},
		{3, 1, 2, 0},
		{10, 5, 4, 1},
		{20, 10, 8, 2},
		{50, 25, 20, 5},
		{100, 50, 40, 10},
	}
	for _, tt := range tests {
		files, unixEnds, udp := fillerSplit(tt.m)
		got := []int{files, unixEnds, udp}
		want := []int{tt.files, tt.unixEnds, tt.udp}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("fillerSplit(%d) mismatch (-want +got):\n%s", tt.m, diff)
		}
		if unixEnds%2 != 0 {
			t.Errorf("fillerSplit(%d) unixEnds = %d; want an even number", tt.m, unixEnds)
		}
	}
}

func TestSplitInts(t *testing.T) {
	for _, s := range []string{"", "1", "20000,20001,20001"} {
		v, err := splitInts(s)
		if err != nil {
			t.Fatalf("splitInts(%q) = %v; want no error", s, err)
		}
		if got := joinInts(v); got != s {
			t.Errorf("joinInts(splitInts(%q)) = %q; want %q", s, got, s)
		}
	}
	if _, err := splitInts("1,x"); err == nil {
		t.Errorf("splitInts(%q) = nil error; want an error", "1,x")
	}
}
