package oncrpc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"
)

func TestXDRUint32(t *testing.T) {
	tests := []struct {
		v    uint32
		wire []byte
	}{
		{0, []byte{0, 0, 0, 0}},
		{1, []byte{0, 0, 0, 1}},
		{100000, []byte{0x00, 0x01, 0x86, 0xa0}},
		{0xdeadbeef, []byte{0xde, 0xad, 0xbe, 0xef}},
		{0xffffffff, []byte{0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%#x", tt.v), func(t *testing.T) {
			if got := appendUint32(nil, tt.v); !bytes.Equal(got, tt.wire) {
				t.Errorf("appendUint32(%d) = % x; want % x", tt.v, got, tt.wire)
			}
			d := &xdrDecoder{b: tt.wire}
			if got := d.Uint32(); got != tt.v || d.Err() != nil || d.Len() != 0 {
				t.Errorf("Uint32(% x) = %d, %v, %d left; want %d, nil, 0 left", tt.wire, got, d.Err(), d.Len(), tt.v)
			}
		})
	}
}

func TestXDROpaque(t *testing.T) {
	tests := []struct {
		name string
		in   string
		wire []byte
	}{
		{"empty", "", []byte{0, 0, 0, 0}},
		{"one byte, three of padding", "a", []byte{0, 0, 0, 1, 'a', 0, 0, 0}},
		{"three bytes, one of padding", "tcp", []byte{0, 0, 0, 3, 't', 'c', 'p', 0}},
		{"four bytes, no padding", "tcp6", []byte{0, 0, 0, 4, 't', 'c', 'p', '6'}},
		{"five bytes", "local", []byte{0, 0, 0, 5, 'l', 'o', 'c', 'a', 'l', 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := appendString(nil, tt.in); !bytes.Equal(got, tt.wire) {
				t.Errorf("appendString(%q) = % x; want % x", tt.in, got, tt.wire)
			}
			// Followed by a uint32, to show the padding is skipped.
			d := &xdrDecoder{b: append(bytes.Clone(tt.wire), 0, 0, 0, 7)}
			got := d.String(100)
			if next := d.Uint32(); got != tt.in || next != 7 || d.Err() != nil {
				t.Errorf("String(% x) = %q, then %d, %v; want %q, then 7, nil", tt.wire, got, next, d.Err(), tt.in)
			}
		})
	}
}

func TestXDRDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		wire   []byte
		decode func(d *xdrDecoder)
		eof    bool // whether the error is io.ErrUnexpectedEOF
	}{
		{"uint32 of 3 bytes", []byte{0, 0, 1}, func(d *xdrDecoder) { d.Uint32() }, true},
		{"bool 2", []byte{0, 0, 0, 2}, func(d *xdrDecoder) { d.Bool() }, false},
		{"opaque longer than the data", []byte{0, 0, 0, 5, 'a', 'b', 'c', 'd'}, func(d *xdrDecoder) { d.Opaque(100) }, true},
		{"opaque without its padding", []byte{0, 0, 0, 1, 'a'}, func(d *xdrDecoder) { d.Opaque(100) }, true},
		{"opaque over its maximum", []byte{0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}, func(d *xdrDecoder) { d.Opaque(4) }, false},
		{"opaque of 4 GiB", []byte{0xff, 0xff, 0xff, 0xff}, func(d *xdrDecoder) { d.Opaque(math.MaxInt32) }, false},
		{"opaque of 2 GiB", []byte{0x7f, 0xff, 0xff, 0xff}, func(d *xdrDecoder) { d.Opaque(math.MaxInt32) }, true},
		{"error sticks", []byte{0, 0, 1, 0, 0, 0, 0, 1}, func(d *xdrDecoder) { d.Bool(); d.Uint32() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &xdrDecoder{b: tt.wire}
			tt.decode(d)
			if d.Err() == nil {
				t.Fatalf("decoding % x: no error", tt.wire)
			}
			if got := errors.Is(d.Err(), io.ErrUnexpectedEOF); got != tt.eof {
				t.Errorf("decoding % x = %v; want io.ErrUnexpectedEOF %v", tt.wire, d.Err(), tt.eof)
			}
			if d.Rest() != nil {
				t.Errorf("Rest after %v = non-nil; want nil", d.Err())
			}
		})
	}
}

// TestXDRBoolList checks the optional-data list shape both DUMP results
// use: TRUE before each entry, FALSE at the end.
func TestXDRBoolList(t *testing.T) {
	var b []byte
	for _, v := range []uint32{10, 20, 30} {
		b = appendBool(b, true)
		b = appendUint32(b, v)
	}
	b = appendBool(b, false)
	want := []byte{0, 0, 0, 1, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 30, 0, 0, 0, 0}
	if !bytes.Equal(b, want) {
		t.Fatalf("list = % x; want % x", b, want)
	}
	d := &xdrDecoder{b: b}
	var got []uint32
	for d.Bool() {
		got = append(got, d.Uint32())
	}
	if d.Err() != nil || len(got) != 3 || got[2] != 30 || d.Len() != 0 {
		t.Errorf("decoding % x = %v, %v, %d left; want [10 20 30], nil, 0 left", b, got, d.Err(), d.Len())
	}
}
