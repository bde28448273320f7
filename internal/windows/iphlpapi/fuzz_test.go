package iphlpapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode checks that Decode never panics, returns no more rows than
// the buffer holds, returns every row the count claims when it reports no
// error, and that its rows survive encoding (by the documented layout, see
// fixtures_test.go) and decoding again unchanged.
func FuzzDecode(f *testing.F) {
	ap := mustAP
	seeds := map[Table][]fixRow{
		TCP4: {{state: 2, local: ap("0.0.0.0:445"), remote: ap("1.2.3.4:5"), portJunk: 0xBEEF, pid: 4, filetime: createdFT, moduleInfo0: 42},
			{state: 5, local: ap("10.0.0.1:5000"), remote: ap("10.0.0.2:443"), pid: 8}},
		TCP6: {{state: 5, local: ap("[fe80::1%12]:22"), remote: ap("[fe80::2%12]:50000"), pid: 77, filetime: createdFT}},
		UDP4: {{local: ap("0.0.0.0:5353"), portJunk: 0xCAFE, pid: 2000, flags: 1, moduleInfo0: 1<<32 | 9}},
		UDP6: {{local: ap("[::]:5355"), pid: 2000, filetime: -5}},
	}
	for tb, rows := range seeds {
		for _, c := range allClasses {
			f.Add(buildTable(tb, c, uint32(len(rows)), rows...), uint8(tb), uint8(c))
			f.Add(buildTable(tb, c, uint32(len(rows)+1), rows...), uint8(tb), uint8(c))
		}
	}
	f.Add([]byte{}, uint8(0), uint8(0))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0}, uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, tb, cl uint8) {
		tab, c := Table(tb%4), Class(cl%4)
		rows, err := Decode(b, tab, c)
		if len(b) < 4 {
			if err == nil || len(rows) != 0 {
				t.Fatalf("Decode(%x) = %d rows, %v; want an error", b, len(rows), err)
			}
			return
		}
		l := docLayoutOf(tab, c)
		fit := 0
		if len(b) > l.rowsAt {
			fit = (len(b) - l.rowsAt) / l.size
		}
		if len(rows) > fit {
			t.Fatalf("Decode(%d bytes, %s, %s) = %d rows; only %d fit", len(b), tab, c, len(rows), fit)
		}
		count := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
		if err == nil && uint64(len(rows)) != count {
			t.Fatalf("Decode(%d bytes, %s, %s) = %d rows, nil; the count says %d", len(b), tab, c, len(rows), count)
		}
		if err != nil && count <= uint64(fit) {
			t.Fatalf("Decode(%d bytes, %s, %s) = %v; all %d rows fit", len(b), tab, c, err, count)
		}
		for i, r := range rows {
			if r.Table != tab {
				t.Fatalf("row %d Table = %s; want %s", i, r.Table, tab)
			}
		}
		again, err := Decode(encodeRows(tab, c, rows), tab, c)
		if err != nil {
			t.Fatalf("Decode(encodeRows(rows)) = %v", err)
		}
		if diff := cmp.Diff(rows, again, rowOpts); diff != "" && len(rows) > 0 {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// FuzzDecodeOwnerModule checks that decodeOwnerModule never panics, for
// either pointer size and any base address.
func FuzzDecodeOwnerModule(f *testing.F) {
	s := func(v string) *string { return &v }
	f.Add(ownerBuf(0x1000, 8, s("a.exe"), s(`C:\a.exe`)), uint64(0x1000), true)
	f.Add(ownerBuf(0x1000, 4, s("Dnscache"), s("Dnscache")), uint64(0x1000), false)
	f.Add(ownerBuf(0, 8, nil, nil), uint64(0), true)
	f.Fuzz(func(t *testing.T, b []byte, base uint64, wide bool) {
		ptrSize := 4
		if wide {
			ptrSize = 8
		}
		name, path, err := decodeOwnerModule(b, base, ptrSize)
		if err != nil && (name != "" || path != "") {
			t.Fatalf("decodeOwnerModule(%x, %#x, %d) = %q, %q, %v; want no strings with an error", b, base, ptrSize, name, path, err)
		}
	})
}
