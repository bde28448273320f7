package httpsys

// This file holds the reader shared by the decoders of buffers whose
// pointers are absolute addresses inside the buffer itself (the service-state
// IOCTL and HttpQueryServiceConfiguration both return such graphs).

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

var le = binary.LittleEndian

// image is an output buffer b that the caller received at address base.
// Every read is bounds-checked; a failed check wraps ErrUnknownLayout.
type image struct {
	b    []byte
	base uint64
}

// at returns the offset of the size bytes that ptr points to.
func (m image) at(ptr uint64, size uint64, what string) (int, error) {
	if ptr == 0 {
		return 0, fmt.Errorf("%s: NULL pointer: %w", what, ErrUnknownLayout)
	}
	if ptr < m.base {
		return 0, fmt.Errorf("%s: pointer %#x below the buffer at %#x: %w", what, ptr, m.base, ErrUnknownLayout)
	}
	off := ptr - m.base
	n := uint64(len(m.b))
	if off > n || size > n-off {
		return 0, fmt.Errorf("%s: %d bytes at offset %#x past the end of a %d-byte buffer: %w", what, size, off, n, ErrUnknownLayout)
	}
	return int(off), nil
}

func (m image) u16(off int) uint16 { return le.Uint16(m.b[off:]) }
func (m image) u32(off int) uint32 { return le.Uint32(m.b[off:]) }
func (m image) u64(off int) uint64 { return le.Uint64(m.b[off:]) }

// utf16n reads a string of nbytes bytes (not NUL-terminated) at ptr.
func (m image) utf16n(ptr uint64, nbytes int, what string) (string, error) {
	if nbytes == 0 {
		return "", nil
	}
	if nbytes%2 != 0 {
		return "", fmt.Errorf("%s: odd length %d for a UTF-16 string: %w", what, nbytes, ErrUnknownLayout)
	}
	if ptr == 0 {
		return "", fmt.Errorf("%s: NULL pointer with length %d: %w", what, nbytes, ErrUnknownLayout)
	}
	off, err := m.at(ptr, uint64(nbytes), what)
	if err != nil {
		return "", err
	}
	return decodeUTF16(m.b[off : off+nbytes]), nil
}

// utf16z reads the NUL-terminated string at ptr and returns it with the
// number of bytes it occupies, the terminator included.
func (m image) utf16z(ptr uint64, what string) (string, int, error) {
	off, err := m.at(ptr, 2, what)
	if err != nil {
		return "", 0, err
	}
	for i := off; i+1 < len(m.b); i += 2 {
		if m.b[i] == 0 && m.b[i+1] == 0 {
			return decodeUTF16(m.b[off:i]), i + 2 - off, nil
		}
	}
	return "", 0, fmt.Errorf("%s: string at offset %#x has no terminator before the end of the buffer: %w", what, off, ErrUnknownLayout)
}

// optUTF16z is utf16z that reads a NULL pointer as "".
func (m image) optUTF16z(ptr uint64, what string) (string, error) {
	if ptr == 0 {
		return "", nil
	}
	s, _, err := m.utf16z(ptr, what)
	return s, err
}

func decodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = le.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
