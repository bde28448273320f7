package dcerpc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// typed reports whether err is one of the errors the decoders may return.
func typed(err error) bool {
	for _, want := range []error{ErrNotRPC, ErrRejected, ErrFault, ErrLimit, ErrMalformed, io.ErrUnexpectedEOF, context.DeadlineExceeded} {
		if errors.Is(err, want) {
			return true
		}
	}
	return false
}

func sambaCapture(f *testing.F) []byte {
	text, err := os.ReadFile("testdata/samba-4.17-standalone.hex")
	if err != nil {
		f.Fatal(err)
	}
	return unhexString(f, string(text))
}

// FuzzLookupResponse checks that the ept_lookup stub decoder never panics,
// never decodes more entries than the bytes can hold, and that what it
// accepts survives decode → encode → decode unchanged.
func FuzzLookupResponse(f *testing.F) {
	f.Add(unhexString(f, goldenStub))
	f.Add(encodeLookupResponse(lookupResponse{Status: statusNotRegistered}))
	f.Add(encodeLookupResponse(lookupResponse{Handle: moreHandle, Entries: []Entry{
		{Interface: lsarp, Version: "0.0", Protocol: ProtoNP, Host: `\\DC01`, Endpoint: `\PIPE\lsass`, Annotation: "lsa"},
		{Object: samr, Interface: samr, Version: "1.0", Protocol: ProtoLRPC, Endpoint: "LRPC-1"},
		{Interface: epm, Version: "3.0", Protocol: ProtoHTTP, Host: "0.0.0.0", Endpoint: "593", Port: 593},
		{Interface: epm, Version: "3.0", Protocol: ProtoUDP, Host: "10.1.2.3", Endpoint: "135", Port: 135},
		{Interface: epm, Version: "3.0", Protocol: "unknown(0x21)"},
		{Annotation: "no tower"},
	}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeLookupResponse(b, 10000)
		if err != nil {
			if !typed(err) {
				t.Fatalf("decodeLookupResponse() = %v, not a typed error", err)
			}
			return
		}
		if max := len(b) / minEntryLen; len(r.Entries) > max {
			t.Fatalf("decoded %d entries from %d bytes", len(r.Entries), len(b))
		}
		for _, e := range r.Entries {
			e.Binding()
		}
		again, err := decodeLookupResponse(encodeLookupResponse(r), 10000)
		if err != nil {
			t.Fatalf("decode(encode(%+v)) = %v", r, err)
		}
		if diff := cmp.Diff(r, again); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// FuzzTower checks that the tower parser never panics and that what it
// accepts survives parse → encode → parse unchanged.
func FuzzTower(f *testing.F) {
	nc := idFloor(0x0b, []byte{0, 0})
	f.Add(towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), nc, idFloor(floorTCP, portRHS(49668)), idFloor(floorIP, []byte{0, 0, 0, 0})))
	f.Add(towerOf(ifaceFloor(epm, 3, 0), ndrFloor(), idFloor(0x0a, nil), idFloor(floorUDP, portRHS(135)), idFloor(floorIP, []byte{1, 2, 3, 4})))
	f.Add(towerOf(ifaceFloor(lsarp, 0, 0), ndrFloor(), nc, idFloor(floorSMB, cstr(`\PIPE\lsass`)), idFloor(floorNetBIOS, cstr(`\\DC01`))))
	f.Add(towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), idFloor(0x0c, nil), idFloor(floorPipe, cstr("LRPC-1"))))
	f.Add(towerOf(ifaceFloor(epm, 3, 0), ndrFloor(), nc, idFloor(floorHTTP, portRHS(593)), idFloor(floorIP, []byte{0, 0, 0, 0})))
	f.Add(towerOf(ifaceFloor(epm, 3, 0), ndrFloor(), idFloor(0x21, nil)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Entry
		if err := parseTower(b, &e); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parseTower() = %v, not ErrMalformed", err)
			}
			return
		}
		e.Binding()
		enc := encodeTower(e)
		var again Entry
		if err := parseTower(enc, &again); err != nil {
			t.Fatalf("parseTower(encodeTower(%+v)) = %v", e, err)
		}
		if diff := cmp.Diff(e, again); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// FuzzFragments feeds the fragment reader any byte stream: it must not
// panic, must not return more stub bytes than it read, and must stop at
// the limits with a typed error.
func FuzzFragments(f *testing.F) {
	stub := unhexString(f, goldenStub)
	f.Add(responsePDUs(2, stub, 4256))
	f.Add(responsePDUs(2, stub, 16))
	f.Add(faultPDU(2, 0x1c010003))
	f.Add(append(responseFragment(2, pfcFirstFrag, 0, stub[:100]), responseFragment(2, 0, 0, stub[100:])...))
	f.Add(sambaCapture(f)[60:]) // after Samba's bind_ack
	f.Fuzz(func(t *testing.T, stream []byte) {
		lim := Limits{MaxFragment: 1024, MaxBytes: 4096}
		s := newSession(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(stream), io.Discard}, lim)
		got, err := s.readResponse(2)
		if s.read > len(stream) || s.read > lim.MaxBytes {
			t.Fatalf("read %d bytes of a %d-byte stream with MaxBytes %d", s.read, len(stream), lim.MaxBytes)
		}
		if err != nil {
			if !typed(err) {
				t.Fatalf("readResponse() = %v, not a typed error", err)
			}
			return
		}
		if len(got) > s.read {
			t.Fatalf("readResponse() returned %d stub bytes from %d bytes", len(got), s.read)
		}
	})
}

// FuzzSession runs the whole client, bind to last reply, against any byte
// stream a server could send.
func FuzzSession(f *testing.F) {
	f.Add(sambaCapture(f))
	f.Add(append(bindAck(1), responsePDUs(2, unhexString(f, goldenStub), 64)...))
	f.Add(append(bindAck(1), responsePDUs(2, encodeLookupResponse(lookupResponse{Status: statusNotRegistered}), 4256)...))
	f.Add(bindNak(1, 4))
	f.Fuzz(func(t *testing.T, stream []byte) {
		lim := Limits{MaxFragment: 2048, MaxBytes: 16384, MaxEntries: 50, MaxCalls: 5}
		s := newSession(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(stream), io.Discard}, lim)
		entries, err := s.lookupAll()
		if err != nil && !typed(err) {
			t.Fatalf("lookupAll() = %v, not a typed error", err)
		}
		if len(entries) > lim.MaxEntries || s.read > lim.MaxBytes || s.read > len(stream) {
			t.Fatalf("lookupAll() = %d entries after reading %d of %d bytes, beyond %+v", len(entries), s.read, len(stream), lim)
		}
	})
}
