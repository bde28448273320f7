package httpsys

// This file builds the x64 buffers the decoders read, from the layouts in
// servicestate.go and config.go, with pointers as absolute addresses at a
// made-up base.

import (
	"encoding/binary"
	"unicode/utf16"
)

// testBase is where the fixtures pretend their buffer lives (a typical
// 64-bit user-mode heap address).
const testBase = 0x0000_01d2_3450_0000

// fuzzBase is the base the fuzz targets use: small pointers are easier for
// the fuzzing engine to make up than testBase-sized ones.
const fuzzBase = 0x100

// mem is a growing buffer that hands out 8-byte aligned records; its
// pointers are relative to base (testBase when zero).
type mem struct {
	b    []byte
	base uint64
}

func (w *mem) alloc(n int) int {
	off := (len(w.b) + 7) &^ 7
	w.b = append(w.b, make([]byte, off+n-len(w.b))...)
	return off
}

func (w *mem) ptr(off int) uint64 {
	if w.base == 0 {
		return testBase + uint64(off)
	}
	return w.base + uint64(off)
}

func (w *mem) u16(off int, v uint16)      { binary.LittleEndian.PutUint16(w.b[off:], v) }
func (w *mem) u32(off int, v uint32)      { binary.LittleEndian.PutUint32(w.b[off:], v) }
func (w *mem) u64(off int, v uint64)      { binary.LittleEndian.PutUint64(w.b[off:], v) }
func (w *mem) setPtr(off int, target int) { w.u64(off, w.ptr(target)) }

// wstr stores s as UTF-16, with a terminator when nul, and returns its
// offset and length in bytes (without the terminator).
func (w *mem) wstr(s string, nul bool) (int, int) {
	u := utf16.Encode([]rune(s))
	if nul {
		u = append(u, 0)
	}
	off := w.alloc(2 * len(u))
	for i, c := range u {
		w.u16(off+2*i, c)
	}
	n := 2 * len(u)
	if nul {
		n -= 2
	}
	return off, n
}

// The whole records as rbmm/HttpServiceState declares them; the decoder
// reads only their first fields.
const (
	fxSessionSize = 0x98
	fxGroupSize   = 0xc0
)

// fxQueue is a request queue to encode; fxGroup a URL group.
type fxQueue struct {
	id         uint64
	name       string
	state      uint32
	pids, tags []uint64 // tags nil: a NULL tag array
	controller uint64
}

type fxGroup struct {
	queueID uint64
	urls    []string
}

// fxOffsets says where buildState put each record, for tests that corrupt
// one.
type fxOffsets struct {
	queues, sessions, groups []int
	urls                     []int // string block of each group
}

// buildState encodes an HTTP_SERVICE_STATE at testBase with the queues in
// order and one server session per element of sessions.
func buildState(queues []fxQueue, sessions [][]fxGroup) ([]byte, fxOffsets) {
	return buildStateAt(testBase, queues, sessions)
}

func buildStateAt(base uint64, queues []fxQueue, sessions [][]fxGroup) ([]byte, fxOffsets) {
	w := mem{base: base}
	var o fxOffsets
	root := w.alloc(stateSize)
	prev := root + stateFirstQueue
	for _, q := range queues {
		off := w.alloc(queueSize)
		o.queues = append(o.queues, off)
		w.setPtr(prev, off)
		prev = off + queueNext
		w.u16(off+8, 2) // HTTPAPI_VERSION 2.0
		w.u32(off+queueState, q.state)
		w.u64(off+queueID, q.id)
		if q.name != "" {
			s, n := w.wstr(q.name, false)
			w.setPtr(off+queueName, s)
			w.u16(off+queueNameLength, uint16(n))
		}
		w.u32(off+queueProcessCount, uint32(len(q.pids)))
		if len(q.pids) > 0 {
			a := w.alloc(8 * len(q.pids))
			for i, p := range q.pids {
				w.u64(a+8*i, p)
			}
			w.setPtr(off+queueProcessIDs, a)
		}
		if q.tags != nil {
			a := w.alloc(8 * len(q.tags))
			for i, t := range q.tags {
				w.u64(a+8*i, t)
			}
			w.setPtr(off+queueProcessTags, a)
		}
		w.u64(off+queueControllerPID, q.controller)
	}
	prev = root + stateFirstSession
	for si, groups := range sessions {
		off := w.alloc(fxSessionSize)
		o.sessions = append(o.sessions, off)
		w.setPtr(prev, off)
		prev = off + sessionNext
		w.u64(off+0x10, 0xff00000010000001+uint64(si)) // ServerSessionId
		gprev := off + sessionFirstGroup
		for gi, g := range groups {
			goff := w.alloc(fxGroupSize)
			o.groups = append(o.groups, goff)
			w.setPtr(gprev, goff)
			gprev = goff + groupNext
			w.u64(goff+8, 0xfe00000020000001+uint64(gi)) // UrlGroupId
			w.u64(goff+groupQueueID, g.queueID)
			w.u32(goff+groupURLCount, uint32(len(g.urls)))
			block := -1
			if len(g.urls) > 0 { // back to back, each NUL-terminated
				block = w.alloc(0)
				for _, u := range g.urls {
					for _, c := range utf16.Encode([]rune(u)) {
						w.b = binary.LittleEndian.AppendUint16(w.b, c)
					}
					w.b = append(w.b, 0, 0)
				}
				w.setPtr(goff+groupURLs, block)
			}
			o.urls = append(o.urls, block)
		}
	}
	return w.b, o
}

// encodeState is buildStateAt for a decoded State: one session, one group
// per queue. It lets the fuzz target check decode → encode → decode.
func encodeState(base uint64, st *State) []byte {
	var qs []fxQueue
	var groups []fxGroup
	for i, q := range st.Queues {
		fq := fxQueue{id: uint64(i + 1), name: q.Name, controller: uint64(q.ControllerPID)}
		switch q.State {
		case "active":
		case "inactive":
			fq.state = 1
		default:
			var n uint32
			for _, c := range q.State[len("state "):] {
				n = 10*n + uint32(c-'0')
			}
			fq.state = n
		}
		for _, p := range q.Processes {
			fq.pids = append(fq.pids, uint64(p.PID))
			fq.tags = append(fq.tags, uint64(p.Tag))
		}
		qs = append(qs, fq)
		if len(q.URLs) > 0 {
			groups = append(groups, fxGroup{queueID: fq.id, urls: q.URLs})
		}
	}
	b, _ := buildStateAt(base, qs, [][]fxGroup{groups})
	return b
}
