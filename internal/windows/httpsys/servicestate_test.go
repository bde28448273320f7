package httpsys

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Two queues: WinRM's unnamed one (a svchost with a service tag) and IIS's
// DefaultAppPool (two w3wp workers without tags, a controller, URLs from two
// URL groups in two server sessions), plus a URL group bound to no queue.
var (
	fxWinRM = fxQueue{id: 0xcae5ebf800000001, pids: []uint64{3104}, tags: []uint64{0x2a}}
	fxIIS   = fxQueue{id: 0xcae5ebf800000002, name: "DefaultAppPool", state: 1,
		pids: []uint64{5120, 5344}, controller: 2288}
	fxSessions = [][]fxGroup{
		{
			{queueID: fxIIS.id, urls: []string{"HTTP://*:80/", "HTTPS://*:443/"}},
			{queueID: fxWinRM.id, urls: []string{"HTTP://+:5985/WSMAN/", "HTTP://+:47001/WSMAN/"}},
		},
		{
			{queueID: 0x99, urls: []string{"HTTP://+:8081/UNBOUND/"}},
			{queueID: fxIIS.id, urls: []string{"HTTP://127.0.0.1:8080:127.0.0.1/APP/"}},
		},
	}
	wantState = &State{Source: SourceIOCTL, Queues: []Queue{
		{State: "active", Processes: []Process{{PID: 3104, Tag: 0x2a}},
			URLs: []string{"HTTP://+:5985/WSMAN/", "HTTP://+:47001/WSMAN/"}},
		{Name: "DefaultAppPool", State: "inactive", ControllerPID: 2288,
			Processes: []Process{{PID: 5120}, {PID: 5344}},
			URLs:      []string{"HTTP://*:80/", "HTTPS://*:443/", "HTTP://127.0.0.1:8080:127.0.0.1/APP/"}},
	}}
)

func TestParseServiceState(t *testing.T) {
	buf, _ := buildState([]fxQueue{fxWinRM, fxIIS}, fxSessions)
	got, err := ParseServiceState(buf, testBase)
	if err != nil {
		t.Fatalf("ParseServiceState(fixture) = %v", err)
	}
	if diff := cmp.Diff(wantState, got); diff != "" {
		t.Errorf("ParseServiceState(fixture) mismatch (-want +got):\n%s", diff)
	}
}

func TestParseServiceStateEmpty(t *testing.T) {
	for _, tc := range []struct {
		name string
		buf  []byte
	}{
		{"no queues, no sessions", make([]byte, stateSize)},
		{"a session without groups", func() []byte { b, _ := buildState(nil, [][]fxGroup{nil}); return b }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseServiceState(tc.buf, testBase)
			if err != nil {
				t.Fatalf("ParseServiceState() = %v; want no error", err)
			}
			if diff := cmp.Diff(&State{Source: SourceIOCTL}, got); diff != "" {
				t.Errorf("ParseServiceState() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// A queue whose strings sit at the end of the buffer must decode, and a
// state at another base address must give the same answer.
func TestParseServiceStateBase(t *testing.T) {
	buf, _ := buildState([]fxQueue{fxWinRM, fxIIS}, fxSessions)
	shift := uint64(0x1000)
	moved := append([]byte(nil), buf...)
	for i := 0; i+8 <= len(moved); i += 8 { // every pointer-looking word moves with the buffer
		if v := le.Uint64(moved[i:]); v >= testBase && v < testBase+uint64(len(moved)) {
			le.PutUint64(moved[i:], v+shift)
		}
	}
	got, err := ParseServiceState(moved, testBase+shift)
	if err != nil {
		t.Fatalf("ParseServiceState(moved fixture) = %v", err)
	}
	if diff := cmp.Diff(wantState, got); diff != "" {
		t.Errorf("ParseServiceState(moved fixture) mismatch (-want +got):\n%s", diff)
	}
}

// Every corruption of a pointer, a count, a string or a list is an error
// wrapping ErrUnknownLayout, never a panic.
func TestParseServiceStateCorrupt(t *testing.T) {
	type fx struct {
		w *mem
		o fxOffsets
	}
	tests := []struct {
		name    string
		corrupt func(f fx)
	}{
		{"buffer shorter than the state", func(f fx) { f.w.b = f.w.b[:stateSize-1] }},
		{"queue pointer below the buffer", func(f fx) { f.w.u64(stateFirstQueue, testBase-8) }},
		{"queue pointer past the end", func(f fx) { f.w.u64(stateFirstQueue, testBase+uint64(len(f.w.b))) }},
		{"queue pointer wraps around", func(f fx) { f.w.u64(stateFirstQueue, math.MaxUint64-4) }},
		{"queue record cut by the end", func(f fx) { f.w.u64(stateFirstQueue, testBase+uint64(len(f.w.b)-queueSize+8)) }},
		{"queue list loops", func(f fx) { f.w.setPtr(f.o.queues[1]+queueNext, f.o.queues[0]) }},
		{"queue points at itself", func(f fx) { f.w.setPtr(f.o.queues[0]+queueNext, f.o.queues[0]) }},
		{"session list loops", func(f fx) { f.w.setPtr(f.o.sessions[1]+sessionNext, f.o.sessions[0]) }},
		{"session pointer past the end", func(f fx) { f.w.u64(stateFirstSession, testBase+uint64(len(f.w.b))) }},
		{"group list loops", func(f fx) { f.w.setPtr(f.o.groups[1]+groupNext, f.o.groups[0]) }},
		{"group pointer past the end", func(f fx) { f.w.u64(f.o.sessions[0]+sessionFirstGroup, testBase+uint64(len(f.w.b))) }},
		{"name pointer past the end", func(f fx) { f.w.u64(f.o.queues[1]+queueName, testBase+uint64(len(f.w.b))) }},
		{"name longer than the buffer", func(f fx) { f.w.u16(f.o.queues[1]+queueNameLength, 0xfffe) }},
		{"name of odd length", func(f fx) { f.w.u16(f.o.queues[1]+queueNameLength, 3) }},
		{"NULL name with a length", func(f fx) { f.w.u16(f.o.queues[0]+queueNameLength, 8) }},
		{"process count beyond the buffer", func(f fx) { f.w.u32(f.o.queues[1]+queueProcessCount, math.MaxUint32) }},
		{"NULL process array", func(f fx) { f.w.u64(f.o.queues[1]+queueProcessIDs, 0) }},
		{"process array past the end", func(f fx) { f.w.u64(f.o.queues[0]+queueProcessIDs, testBase+uint64(len(f.w.b)-4)) }},
		{"tag array past the end", func(f fx) { f.w.u64(f.o.queues[0]+queueProcessTags, testBase+uint64(len(f.w.b))) }},
		{"PID wider than a DWORD", func(f fx) {
			f.w.u64(int(le.Uint64(f.w.b[f.o.queues[0]+queueProcessIDs:])-testBase), 1<<32)
		}},
		{"tag wider than a DWORD", func(f fx) {
			f.w.u64(int(le.Uint64(f.w.b[f.o.queues[0]+queueProcessTags:])-testBase), 1<<40)
		}},
		{"controller wider than a DWORD", func(f fx) { f.w.u64(f.o.queues[1]+queueControllerPID, math.MaxUint64) }},
		{"more URLs than the buffer holds", func(f fx) { f.w.u32(f.o.groups[0]+groupURLCount, math.MaxUint32) }},
		{"one URL too many", func(f fx) { f.w.u32(f.o.groups[3]+groupURLCount, 2) }},
		{"NULL URL block", func(f fx) { f.w.u64(f.o.groups[0]+groupURLs, 0) }},
		{"URL without terminator", func(f fx) {
			f.w.b = append(f.w.b, 'x', 0, 'y', 0)
			f.w.u64(f.o.groups[0]+groupURLs, testBase+uint64(len(f.w.b)-4))
			f.w.u32(f.o.groups[0]+groupURLCount, 1)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, o := buildState([]fxQueue{fxWinRM, fxIIS}, fxSessions)
			f := fx{w: &mem{b: b}, o: o}
			tc.corrupt(f)
			got, err := ParseServiceState(f.w.b, testBase)
			if !errors.Is(err, ErrUnknownLayout) {
				t.Fatalf("ParseServiceState(%s) = %+v, %v; want an error wrapping ErrUnknownLayout", tc.name, got, err)
			}
			t.Logf("ParseServiceState(%s) = %v", tc.name, err)
		})
	}
}

func FuzzParseServiceState(f *testing.F) {
	b, _ := buildStateAt(fuzzBase, []fxQueue{fxWinRM, fxIIS}, fxSessions)
	f.Add(b)
	f.Add(make([]byte, stateSize))
	b, _ = buildStateAt(fuzzBase, []fxQueue{{id: 1, name: "q", state: 7, pids: []uint64{4}}}, [][]fxGroup{{{queueID: 1, urls: []string{"", "HTTP://+:1/"}}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseServiceState(b, fuzzBase)
		if err != nil {
			if !errors.Is(err, ErrUnknownLayout) {
				t.Fatalf("ParseServiceState() = %v; want nil or an error wrapping ErrUnknownLayout", err)
			}
			return
		}
		var procs int
		for _, q := range st.Queues {
			procs += len(q.Processes)
		}
		if procs > len(b)/8 {
			t.Fatalf("ParseServiceState() found %d processes in %d bytes", procs, len(b))
		}
		// What decodes must encode and decode to the same state.
		again, err := ParseServiceState(encodeState(fuzzBase, st), fuzzBase)
		if err != nil {
			t.Fatalf("ParseServiceState(encodeState(%+v)) = %v", st, err)
		}
		if diff := cmp.Diff(st, again); diff != "" {
			t.Fatalf("decode → encode → decode mismatch (-first +second):\n%s", diff)
		}
	})
}
