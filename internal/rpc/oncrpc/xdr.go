package oncrpc

// This file holds the part of XDR (RFC 4506) that ONC RPC and the
// portmapper need: big-endian unsigned integers, booleans and
// variable-length opaque data and strings padded to a multiple of four
// bytes.

import (
	"encoding/binary"
	"fmt"
	"io"
)

// xdrDecoder reads XDR items from a byte slice. The first error sticks:
// later reads return zero values and Err reports that first error, so a
// decoder can read a whole structure and check once.
type xdrDecoder struct {
	b   []byte
	off int
	err error
}

// Err returns the first error met, or nil.
func (d *xdrDecoder) Err() error { return d.err }

// Len returns the number of bytes not yet read.
func (d *xdrDecoder) Len() int { return len(d.b) - d.off }

// Rest returns the bytes not yet read and consumes them.
func (d *xdrDecoder) Rest() []byte {
	if d.err != nil {
		return nil
	}
	r := d.b[d.off:]
	d.off = len(d.b)
	return r
}

func (d *xdrDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("at byte %d: %w", d.off, fmt.Errorf(format, args...))
	}
}

// Uint32 reads an unsigned int (RFC 4506 §4.2).
func (d *xdrDecoder) Uint32() uint32 {
	if d.err != nil {
		return 0
	}
	if d.Len() < 4 {
		d.fail("unsigned int needs 4 bytes, %d left: %w", d.Len(), io.ErrUnexpectedEOF)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

// Bool reads a boolean (RFC 4506 §4.4): 0 or 1, anything else is an error.
func (d *xdrDecoder) Bool() bool {
	v := d.Uint32()
	if v > 1 {
		d.fail("boolean is %d, want 0 or 1", v)
		return false
	}
	return v == 1
}

// Opaque reads variable-length opaque data (RFC 4506 §4.10) of at most
// max bytes, and skips its padding. The result aliases the decoder's
// bytes.
func (d *xdrDecoder) Opaque(max int) []byte {
	n := d.Uint32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(max) {
		d.fail("opaque of %d bytes, more than its maximum of %d", n, max)
		return nil
	}
	padded := (uint64(n) + 3) &^ 3
	if padded > uint64(d.Len()) {
		d.fail("opaque of %d bytes, %d left: %w", n, d.Len(), io.ErrUnexpectedEOF)
		return nil
	}
	v := d.b[d.off : d.off+int(n)]
	d.off += int(padded)
	return v
}

// String reads a string (RFC 4506 §4.11) of at most max bytes.
func (d *xdrDecoder) String(max int) string { return string(d.Opaque(max)) }

// appendUint32 appends an unsigned int.
func appendUint32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }

// appendOpaque appends variable-length opaque data and its zero padding.
func appendOpaque(dst, b []byte) []byte {
	dst = appendUint32(dst, uint32(len(b)))
	dst = append(dst, b...)
	for i := len(b); i%4 != 0; i++ {
		dst = append(dst, 0)
	}
	return dst
}
