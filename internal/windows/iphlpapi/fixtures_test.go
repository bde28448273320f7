package iphlpapi

// This file builds table buffers the way Windows lays them out, from the
// field offsets documented in shared/design/windows.md 1.2 and wine.md 3
// (typed in here by hand, not taken from layout.go), so that the decoder is
// checked against the documentation rather than against itself.

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"

	"github.com/whobinds/whobinds/internal/model"
)

// docLayout is one row layout as the documentation gives it; -1 for a
// field the layout does not have.
type docLayout struct {
	rowsAt, size                                   int
	state, laddr, lscope, lport                    int
	raddr, rscope, rport, pid, created, flags, mod int
}

// docLayouts are the eight layouts, indexed by table and module-ness:
//
//	tcp4 PID 4/24   tcp4 MODULE 8/160   tcp6 PID 4/56   tcp6 MODULE 8/192
//	udp4 PID 4/12   udp4 MODULE 8/160   udp6 PID 4/28   udp6 MODULE 8/176
//	tcp4 row: state@0 laddr@4 lport@8 raddr@12 rport@16 pid@20 [ts@24 mod@32]
//	tcp6 row: laddr@0 lscope@16 lport@20 raddr@24 rscope@40 rport@44 state@48 pid@52 [ts@56 mod@64]
//	udp4 row: laddr@0 lport@4 pid@8 [ts@16 flags@24 mod@32]
//	udp6 row: laddr@0 scope@16 lport@20 pid@24 [ts@32 flags@40 mod@48]
var docLayouts = map[Table][2]docLayout{
	TCP4: {
		{rowsAt: 4, size: 24, state: 0, laddr: 4, lscope: -1, lport: 8, raddr: 12, rscope: -1, rport: 16, pid: 20, created: -1, flags: -1, mod: -1},
		{rowsAt: 8, size: 160, state: 0, laddr: 4, lscope: -1, lport: 8, raddr: 12, rscope: -1, rport: 16, pid: 20, created: 24, flags: -1, mod: 32},
	},
	TCP6: {
		{rowsAt: 4, size: 56, state: 48, laddr: 0, lscope: 16, lport: 20, raddr: 24, rscope: 40, rport: 44, pid: 52, created: -1, flags: -1, mod: -1},
		{rowsAt: 8, size: 192, state: 48, laddr: 0, lscope: 16, lport: 20, raddr: 24, rscope: 40, rport: 44, pid: 52, created: 56, flags: -1, mod: 64},
	},
	UDP4: {
		{rowsAt: 4, size: 12, state: -1, laddr: 0, lscope: -1, lport: 4, raddr: -1, rscope: -1, rport: -1, pid: 8, created: -1, flags: -1, mod: -1},
		{rowsAt: 8, size: 160, state: -1, laddr: 0, lscope: -1, lport: 4, raddr: -1, rscope: -1, rport: -1, pid: 8, created: 16, flags: 24, mod: 32},
	},
	UDP6: {
		{rowsAt: 4, size: 28, state: -1, laddr: 0, lscope: 16, lport: 20, raddr: -1, rscope: -1, rport: -1, pid: 24, created: -1, flags: -1, mod: -1},
		{rowsAt: 8, size: 176, state: -1, laddr: 0, lscope: 16, lport: 20, raddr: -1, rscope: -1, rport: -1, pid: 24, created: 32, flags: 40, mod: 48},
	},
}

func docLayoutOf(t Table, c Class) docLayout {
	if c == OwnerModuleAll || c == OwnerModuleListener {
		return docLayouts[t][1]
	}
	return docLayouts[t][0]
}

// fixRow is one row in Windows' terms.
type fixRow struct {
	state          uint32 // MIB_TCP_STATE
	local, remote  netip.AddrPort
	portJunk       uint16 // the upper 16 bits of both port DWORDs
	pid            uint32
	filetime       int64
	moduleInfo0    uint64 // OwningModuleInfo[0]
	moduleInfoFill byte   // every byte of OwningModuleInfo[1..15]
	flags          int32
}

// putPort writes a port DWORD: the port in network byte order in the low
// 16 bits (memory bytes 0 and 1, big end first), junk in the upper 16.
func putPort(b []byte, port, junk uint16) {
	b[0], b[1] = byte(port>>8), byte(port)
	b[2], b[3] = byte(junk), byte(junk>>8)
}

// putAddr writes an address: IPv4 as its four bytes in network order, IPv6
// as its 16 bytes plus the zone as a little-endian scope ID at scope. The
// zero Addr leaves the bytes zero.
func putAddr(b []byte, addr, scope int, a netip.Addr) {
	if !a.IsValid() {
		return
	}
	if scope < 0 {
		v := a.As4()
		copy(b[addr:], v[:])
		return
	}
	v := a.As16()
	copy(b[addr:], v[:])
	if z := a.Zone(); z != "" {
		id, err := strconv.ParseUint(z, 10, 32)
		if err != nil {
			panic("fixture zone " + z + " is not a scope ID")
		}
		binary.LittleEndian.PutUint32(b[scope:], uint32(id))
	}
}

// buildRow encodes one row in layout l.
func buildRow(l docLayout, r fixRow) []byte {
	b := make([]byte, l.size)
	le := binary.LittleEndian
	if l.state >= 0 {
		le.PutUint32(b[l.state:], r.state)
	}
	putAddr(b, l.laddr, l.lscope, r.local.Addr())
	putPort(b[l.lport:], r.local.Port(), r.portJunk)
	if l.raddr >= 0 {
		putAddr(b, l.raddr, l.rscope, r.remote.Addr())
		putPort(b[l.rport:], r.remote.Port(), r.portJunk)
	}
	le.PutUint32(b[l.pid:], r.pid)
	if l.created >= 0 {
		le.PutUint64(b[l.created:], uint64(r.filetime))
	}
	if l.flags >= 0 {
		le.PutUint32(b[l.flags:], uint32(r.flags))
	}
	if l.mod >= 0 {
		le.PutUint64(b[l.mod:], r.moduleInfo0)
		for i := l.mod + 8; i < l.mod+128; i++ {
			b[i] = r.moduleInfoFill
		}
	}
	return b
}

// buildTable encodes a table of t and c holding rows and claiming count
// entries. The padding between the count and the rows of the owner-module
// tables is filled with 0xAA: Windows does not promise zeros there.
func buildTable(t Table, c Class, count uint32, rows ...fixRow) []byte {
	l := docLayoutOf(t, c)
	b := make([]byte, l.rowsAt)
	binary.LittleEndian.PutUint32(b, count)
	for i := 4; i < l.rowsAt; i++ {
		b[i] = 0xAA
	}
	for _, r := range rows {
		b = append(b, buildRow(l, r)...)
	}
	return b
}

// toFiletime is the FILETIME of tm: 100 ns intervals since 1601-01-01 UTC,
// of which 11644473600 s lie before the Unix epoch.
func toFiletime(tm time.Time) int64 {
	if tm.IsZero() {
		return 0
	}
	return (tm.Unix()+11644473600)*10_000_000 + int64(tm.Nanosecond()/100)
}

// mibStates maps model states back to MIB_TCP_STATE, for re-encoding
// decoded rows; StateUnknown goes to DELETE_TCB (12), which decodes to it.
var mibStates = map[model.State]uint32{
	model.StateUnknown: 12, model.Close: 1, model.Listen: 2, model.SynSent: 3, model.SynRecv: 4,
	model.Established: 5, model.FinWait1: 6, model.FinWait2: 7, model.CloseWait: 8, model.Closing: 9,
	model.LastAck: 10, model.TimeWait: 11, model.BoundInactive: 100,
}

// encodeRows encodes decoded rows back into a table of t and c.
func encodeRows(t Table, c Class, rows []Row) []byte {
	fix := make([]fixRow, len(rows))
	for i, r := range rows {
		fix[i] = fixRow{
			state:       mibStates[r.State],
			local:       r.Local,
			remote:      r.Remote,
			pid:         r.PID,
			filetime:    toFiletime(r.Created),
			moduleInfo0: uint64(r.Tag),
		}
		if r.SpecificPortBind {
			fix[i].flags = 1
		}
	}
	return buildTable(t, c, uint32(len(rows)), fix...)
}
