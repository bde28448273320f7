package dcerpc

// This file holds the NDR of ept_lookup (opnum 2 of the ept interface,
// C706 appendix O; [MS-RPCE] 3.1.1.5.1.1):
//
//	void ept_lookup([in] handle_t h, [in] unsigned32 inquiry_type,
//	    [in] uuid_p_t object, [in] rpc_if_id_p_t interface_id,
//	    [in] unsigned32 vers_option, [in, out] ept_lookup_handle_t *entry_handle,
//	    [in] unsigned32 max_ents, [out] unsigned32 *num_ents,
//	    [out, length_is(*num_ents), size_is(max_ents)] ept_entry_t entries[],
//	    [out] error_status_t *status);
//	typedef struct { uuid_t object; twr_p_t tower; [string] char annotation[64]; } ept_entry_t;
//	typedef struct { unsigned32 tower_length; [size_is(tower_length)] byte tower_octet_string[]; } twr_t;
//
// Alignment is counted from the start of the stub.

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	opLookup = 2
	// maxEnts is what every ept_lookup asks for, as Impacket does.
	maxEnts = 500
	// handleLen is an ept_lookup_handle_t: a context handle, attributes
	// u32 and a UUID.
	handleLen = 20
	// statusNotRegistered is ept_s_not_registered, "no (more) entries".
	// Windows ends a lookup with a null handle and status 0; Samba with
	// this status, on the reply with the last entries or on an extra
	// empty one.
	statusNotRegistered = 0x16c9a0d6
	// minEntryLen is the least an ept_entry_t takes on the wire: object,
	// tower referent, annotation offset and count.
	minEntryLen = 16 + 4 + 4 + 4
)

// encodeLookup returns the ept_lookup request stub that asks for every
// element (RPC_C_EP_ALL_ELTS, no object, no interface, RPC_C_VERS_ALL),
// continuing from handle.
func encodeLookup(handle [handleLen]byte, max uint32) []byte {
	b := make([]byte, 0, 40)
	b = le.AppendUint32(b, 0) // inquiry_type RPC_C_EP_ALL_ELTS
	b = le.AppendUint32(b, 0) // object: NULL
	b = le.AppendUint32(b, 0) // interface_id: NULL
	b = le.AppendUint32(b, 1) // vers_option RPC_C_VERS_ALL
	b = append(b, handle[:]...)
	return le.AppendUint32(b, max)
}

// lookupResponse is one decoded ept_lookup response stub.
type lookupResponse struct {
	// Handle is the entry handle to send with the next call; all zero
	// when the server has no more entries.
	Handle [handleLen]byte
	// Entries are the entries of this reply.
	Entries []Entry
	// Status is the call's error_status_t.
	Status uint32
}

// done reports whether the lookup is over: a null handle, or Samba's
// ept_s_not_registered.
func (r *lookupResponse) done() bool {
	return r.Handle == [handleLen]byte{} || r.Status == statusNotRegistered
}

// ndr reads NDR scalars from a stub. The first error sticks; after it every
// read returns zero values.
type ndr struct {
	b   []byte
	off int
	err error
}

func (d *ndr) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

// bytes returns the next n bytes, or nil with the error set when fewer
// remain.
func (d *ndr) bytes(n uint32, what string) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(d.b)-d.off) {
		d.fail("%s of %d bytes at offset %d of a %d-byte stub", what, n, d.off, len(d.b))
		return nil
	}
	b := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return b
}

func (d *ndr) u32(what string) uint32 {
	b := d.bytes(4, what)
	if b == nil {
		return 0
	}
	return le.Uint32(b)
}

// align4 skips padding up to a multiple of 4 from the start of the stub.
func (d *ndr) align4() {
	d.bytes(uint32((4-d.off%4)%4), "padding")
}

// decodeLookupResponse decodes an ept_lookup response stub. It refuses,
// with ErrLimit and before allocating for them, more than limit entries.
func decodeLookupResponse(b []byte, limit int) (lookupResponse, error) {
	var r lookupResponse
	d := &ndr{b: b}
	copy(r.Handle[:], d.bytes(handleLen, "entry_handle"))
	num := d.u32("num_ents")
	maxCount := d.u32("entries max_count")
	offset := d.u32("entries offset")
	count := d.u32("entries actual_count")
	if d.err != nil {
		return r, d.err
	}
	switch {
	case uint64(count) > uint64(limit):
		return r, fmt.Errorf("%w: a reply with %d entries, %d allowed", ErrLimit, count, limit)
	case count != num:
		return r, fmt.Errorf("%w: num_ents %d but the array holds %d", ErrMalformed, num, count)
	case offset != 0 || count > maxCount:
		return r, fmt.Errorf("%w: entries array with offset %d, %d of %d", ErrMalformed, offset, count, maxCount)
	case count > maxEnts:
		return r, fmt.Errorf("%w: %d entries, more than the %d asked for", ErrMalformed, count, maxEnts)
	case uint64(count)*minEntryLen > uint64(len(b)-d.off):
		return r, fmt.Errorf("%w: %d entries cannot fit in the %d bytes left", ErrMalformed, count, len(b)-d.off)
	}

	r.Entries = make([]Entry, count)
	refs := make([]uint32, count)
	for i := range r.Entries {
		e := &r.Entries[i]
		d.align4()
		if obj := d.bytes(16, "object"); obj != nil && !isZero(obj) {
			e.Object = formatUUID(obj)
		}
		refs[i] = d.u32("tower referent")
		off := d.u32("annotation offset")
		n := d.u32("annotation actual_count")
		e.Annotation = cleanString(d.bytes(n, "annotation"))
		if d.err == nil && off != 0 {
			d.fail("entry %d: annotation offset %d", i, off)
		}
	}
	// The towers follow the array, in entry order. twr_p_t is a full
	// pointer: a referent seen before is not marshalled again.
	seen := map[uint32]int{}
	for i, ref := range refs {
		if d.err != nil {
			return r, d.err
		}
		e := &r.Entries[i]
		if ref == 0 {
			continue // no tower: only the object and annotation are known
		}
		if j, ok := seen[ref]; ok {
			e.setTower(&r.Entries[j])
			continue
		}
		seen[ref] = i
		d.align4()
		maxLen := d.u32("tower max_count")
		n := d.u32("tower_length")
		if d.err == nil && n > maxLen {
			d.fail("entry %d: tower_length %d over max_count %d", i, n, maxLen)
		}
		t := d.bytes(n, "tower")
		if d.err != nil {
			return r, d.err
		}
		if err := parseTower(t, e); err != nil {
			return r, fmt.Errorf("entry %d: %w", i, err)
		}
	}
	d.align4()
	r.Status = d.u32("status")
	return r, d.err
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// cleanString turns a NUL-terminated string from the wire into text that
// is safe to print: it stops at the first NUL, and replaces invalid UTF-8
// and control characters with U+FFFD, so that a server cannot send escape
// sequences to the user's terminal.
func cleanString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	clean := true
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if unicode.IsControl(r) {
			r = utf8.RuneError
		}
		sb.WriteRune(r)
		b = b[n:]
	}
	return sb.String()
}
