package oncrpc

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzRecordReader reads records from arbitrary streams within small
// limits: no panic, no limit passed, and the records it returns read back
// the same when framed again as single fragments.
func FuzzRecordReader(f *testing.F) {
	f.Add(appendRecord(nil, []byte("hello")))
	f.Add(appendFragments(nil, []byte("hello world"), 1, 0, 3))
	f.Add(appendRecord(appendRecord(nil, nil), []byte("x")))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte("HTTP/1.1 200 OK\r\n"))
	f.Add(bytes.Repeat([]byte{0, 0, 0, 0}, 20))
	lim := limits{record: 1 << 10, bytes: 4 << 10, fragments: 8}
	f.Fuzz(func(t *testing.T, stream []byte) {
		rr := newRecordReader(bytes.NewReader(stream), lim, nil)
		var recs [][]byte
		for {
			rec, err := rr.Next()
			if err != nil {
				break
			}
			if len(rec) > lim.record {
				t.Fatalf("record of %d bytes; limit %d", len(rec), lim.record)
			}
			recs = append(recs, rec)
		}
		if *rr.read > lim.bytes {
			t.Fatalf("read %d bytes; limit %d", *rr.read, lim.bytes)
		}
		var again []byte
		for _, rec := range recs {
			again = appendRecord(again, rec)
		}
		rr2 := newRecordReader(bytes.NewReader(again), limits{record: 1 << 20, bytes: 1 << 20, fragments: 1}, nil)
		for i, want := range recs {
			got, err := rr2.Next()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("record %d framed again = %q, %v; want %q", i, got, err, want)
			}
		}
		if _, err := rr2.Next(); err != io.EOF {
			t.Fatalf("after the records: %v; want io.EOF", err)
		}
	})
}

// FuzzParseReply decodes arbitrary replies: no panic, errors wrap
// ErrNotRPC, and a reply with an AUTH_NONE verifier encodes back to the
// bytes it was read from.
func FuzzParseReply(f *testing.F) {
	f.Add(appendReply(nil, reply{xid: 1, accept: success, results: appendRpcbList(nil, []Mapping{{Program: 100000, Version: 4, Netid: "tcp", Addr: "0.0.0.0.0.111", Owner: "superuser"}})}))
	f.Add(appendReply(nil, reply{xid: 2, accept: progMismatch, low: 2, high: 4}))
	f.Add(appendReply(nil, reply{xid: 3, accept: procUnavail}))
	f.Add(appendReply(nil, reply{xid: 4, denied: true, reject: rejectRPCMismatch, low: 3, high: 3}))
	f.Add(appendReply(nil, reply{xid: 5, denied: true, reject: rejectAuthError, auth: 1}))
	f.Add(appendCall(nil, 6, 100000, 4, 4))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseReply(b)
		if err != nil {
			if !errors.Is(err, ErrNotRPC) {
				t.Fatalf("parseReply(% x) = %v; want ErrNotRPC", b, err)
			}
			return
		}
		// Only AUTH_NONE verifiers with an empty body encode back.
		if !r.denied && (len(b) < 20 || !bytes.Equal(b[12:20], make([]byte, 8))) {
			return
		}
		back := appendReply(nil, r)
		if !bytes.HasPrefix(b, back) {
			t.Fatalf("appendReply(parseReply(% x)) = % x; want a prefix", b, back)
		}
		r2, err := parseReply(back)
		if err != nil {
			t.Fatalf("parseReply(appendReply(%+v)) = %v", r, err)
		}
		if diff := cmp.Diff(r, r2, cmp.AllowUnexported(reply{})); diff != "" {
			t.Fatalf("reply round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzDecodePmapList: no panic, at most max entries, and what decodes
// encodes and decodes again the same.
func FuzzDecodePmapList(f *testing.F) {
	f.Add(appendPmapList(nil, []Mapping{{Program: 100000, Version: 2, Netid: "tcp", Port: 111}, {Program: 100024, Version: 1, Netid: "udp", Port: 35205}}))
	f.Add(appendPmapList(nil, nil))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := decodePmapList(b, 16)
		if err != nil {
			return
		}
		if len(ms) > 16 {
			t.Fatalf("%d entries; max 16", len(ms))
		}
		again, err := decodePmapList(appendPmapList(nil, ms), 16)
		if err != nil {
			t.Fatalf("decodePmapList(appendPmapList(%+v)) = %v", ms, err)
		}
		if diff := cmp.Diff(ms, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzDecodeRpcbList: no panic, at most max entries, ports only from IP
// universal addresses, and a round trip through the encoder.
func FuzzDecodeRpcbList(f *testing.F) {
	f.Add(appendRpcbList(nil, []Mapping{
		{Program: 100000, Version: 4, Netid: "tcp6", Addr: "::.0.111", Owner: "superuser"},
		{Program: 100000, Version: 3, Netid: "local", Addr: "/run/rpcbind.sock", Owner: "superuser"},
	}))
	f.Add(appendRpcbList(nil, nil))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := decodeRpcbList(b, 16)
		if err != nil {
			return
		}
		if len(ms) > 16 {
			t.Fatalf("%d entries; max 16", len(ms))
		}
		for _, m := range ms {
			ap, perr := ParseUniversalAddr(m.Addr)
			if want := uint16(0); perr == nil && !localNetid(m.Netid) {
				want = ap.Port()
				if m.Port != want {
					t.Fatalf("%+v: port %d; want %d", m, m.Port, want)
				}
			} else if m.Port != 0 {
				t.Fatalf("%+v: port %d; want 0", m, m.Port)
			}
		}
		again, err := decodeRpcbList(appendRpcbList(nil, ms), 16)
		if err != nil {
			t.Fatalf("decodeRpcbList(appendRpcbList(%+v)) = %v", ms, err)
		}
		if diff := cmp.Diff(ms, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseUniversalAddr: no panic, and an address that parses formats
// and parses again to itself.
func FuzzParseUniversalAddr(f *testing.F) {
	for _, s := range []string{"0.0.0.0.8.1", "::.0.111", "fe80::1%eth0.100.0.111", "::ffff:1.2.3.4.1.1", "/run/rpcbind.sock", "1.2.3.4.256.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := ParseUniversalAddr(s)
		if err != nil {
			return
		}
		back, err := ParseUniversalAddr(formatUniversalAddr(ap))
		if err != nil || back != ap {
			t.Fatalf("ParseUniversalAddr(%q) = %v, formatted %q, parsed again %v, %v", s, ap, formatUniversalAddr(ap), back, err)
		}
	})
}
