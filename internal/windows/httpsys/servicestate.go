package httpsys

import (
	"fmt"
	"math"
)

// Layouts of the service-state IOCTL output, x64 (and arm64, which has the
// same LLP64 alignment). Undocumented; reverse-engineered by
// https://github.com/rbmm/HttpServiceState (ServiceState.h, read for the
// protocol facts only), recorded in ../shared/design/windows.md 3.1. Only
// the fields this package reads are listed; a record must be at least as
// long as the last field read.
const (
	// HTTP_SERVICE_STATE
	stateFirstSession = 0x00
	stateFirstQueue   = 0x08
	stateSize         = 0x10

	// HTTP_REQUEST_QUEUE
	queueNext          = 0x00
	queueState         = 0x0c // HTTP_ENABLED_STATE: 0 active, 1 inactive
	queueID            = 0x18 // HTTP_OPAQUE_ID, joins HTTP_URL_GROUP.QueueId
	queueName          = 0x20 // PCWSTR
	queueNameLength    = 0x28 // USHORT, bytes
	queueProcessCount  = 0x30 // ULONG ActiveProcessCount
	queueProcessIDs    = 0x38 // HANDLE*, ActiveProcessCount entries
	queueControllerPID = 0x40 // HANDLE
	queueProcessTags   = 0x50 // HANDLE*, ActiveProcessCount entries (may be NULL)
	queueSize          = 0x58

	// HTTP_SERVER_SESSION
	sessionNext       = 0x00
	sessionFirstGroup = 0x08
	sessionSize       = 0x10

	// HTTP_URL_GROUP
	groupNext     = 0x00
	groupQueueID  = 0x18 // HTTP_OPAQUE_ID
	groupURLCount = 0x24 // ULONG
	groupURLs     = 0x30 // PCWSTR: UrlCount NUL-terminated strings back to back
	groupSize     = 0x38
)

// ParseServiceState decodes the output buffer of the http.sys management
// IOCTL (x64 layout, windows.md 3.1): pointers are absolute addresses inside
// buf, base is buf's address. Every pointer, count and string is
// bounds-checked; lists are walked with a cycle/length cap. URL groups are
// joined to queues by QueueId; a group whose queue is not in the list (an
// unbound group) routes nowhere and is dropped. Errors wrap
// ErrUnknownLayout.
func ParseServiceState(buf []byte, base uint64) (*State, error) {
	m := image{b: buf, base: base}
	if len(buf) < stateSize {
		return nil, fmt.Errorf("service state: %d-byte buffer, want at least %d: %w", len(buf), stateSize, ErrUnknownLayout)
	}
	st := &State{Source: SourceIOCTL}
	byID := map[uint64][]int{}
	err := walk(m, m.u64(stateFirstQueue), queueSize, queueNext, "request queue", func(off int) error {
		q, err := parseQueue(m, off)
		if err != nil {
			return err
		}
		id := m.u64(off + queueID)
		byID[id] = append(byID[id], len(st.Queues))
		st.Queues = append(st.Queues, q)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = walk(m, m.u64(stateFirstSession), sessionSize, sessionNext, "server session", func(off int) error {
		return walk(m, m.u64(off+sessionFirstGroup), groupSize, groupNext, "URL group", func(off int) error {
			urls, err := parseGroupURLs(m, off)
			if err != nil {
				return err
			}
			for _, i := range byID[m.u64(off+groupQueueID)] {
				st.Queues[i].URLs = append(st.Queues[i].URLs, urls...)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// walk calls fn with the offset of each record of a singly linked list that
// starts at ptr; a record is size bytes and holds the next pointer at
// nextOff. A list that revisits a record, or is longer than the buffer
// could hold, is an error.
func walk(m image, ptr uint64, size, nextOff int, what string, fn func(off int) error) error {
	seen := map[uint64]bool{}
	for n := 0; ptr != 0; n++ {
		if seen[ptr] {
			return fmt.Errorf("%s list loops back to %#x: %w", what, ptr, ErrUnknownLayout)
		}
		if n > len(m.b)/size {
			return fmt.Errorf("%s list has more records than the buffer can hold: %w", what, ErrUnknownLayout)
		}
		seen[ptr] = true
		off, err := m.at(ptr, uint64(size), what)
		if err != nil {
			return err
		}
		if err := fn(off); err != nil {
			return err
		}
		ptr = m.u64(off + nextOff)
	}
	return nil
}

func parseQueue(m image, off int) (Queue, error) {
	var q Queue
	switch s := m.u32(off + queueState); s {
	case 0:
		q.State = "active"
	case 1:
		q.State = "inactive"
	default:
		q.State = fmt.Sprintf("state %d", s)
	}
	name, err := m.utf16n(m.u64(off+queueName), int(m.u16(off+queueNameLength)), "request queue name")
	if err != nil {
		return q, err
	}
	q.Name = name
	pid, err := handleValue(m.u64(off+queueControllerPID), "controller process ID")
	if err != nil {
		return q, err
	}
	q.ControllerPID = int(pid)

	n := uint64(m.u32(off + queueProcessCount))
	if n == 0 {
		return q, nil
	}
	pids, err := m.at(m.u64(off+queueProcessIDs), n*8, "process IDs")
	if err != nil {
		return q, err
	}
	tags := -1
	if p := m.u64(off + queueProcessTags); p != 0 {
		if tags, err = m.at(p, n*8, "process tags"); err != nil {
			return q, err
		}
	}
	q.Processes = make([]Process, n)
	for i := range q.Processes {
		pid, err := handleValue(m.u64(pids+8*i), "process ID")
		if err != nil {
			return q, err
		}
		q.Processes[i].PID = int(pid)
		if tags >= 0 {
			if q.Processes[i].Tag, err = handleValue(m.u64(tags+8*i), "service tag"); err != nil {
				return q, err
			}
		}
	}
	return q, nil
}

// handleValue converts a HANDLE-sized field that holds a DWORD (a process
// ID or a service tag).
func handleValue(v uint64, what string) (uint32, error) {
	if v > math.MaxUint32 {
		return 0, fmt.Errorf("%s %#x does not fit a DWORD: %w", what, v, ErrUnknownLayout)
	}
	return uint32(v), nil
}

func parseGroupURLs(m image, off int) ([]string, error) {
	n := int(m.u32(off + groupURLCount))
	if n == 0 {
		return nil, nil
	}
	ptr := m.u64(off + groupURLs)
	start, err := m.at(ptr, 2, "registered URLs")
	if err != nil {
		return nil, err
	}
	if n > (len(m.b)-start)/2 { // each string takes at least its terminator
		return nil, fmt.Errorf("URL group claims %d URLs in %d bytes: %w", n, len(m.b)-start, ErrUnknownLayout)
	}
	urls := make([]string, 0, n)
	for range n {
		s, size, err := m.utf16z(ptr, "registered URL")
		if err != nil {
			return nil, err
		}
		urls = append(urls, s)
		ptr += uint64(size)
	}
	return urls, nil
}
