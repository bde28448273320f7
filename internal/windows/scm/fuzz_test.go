package scm

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeEnum decodes arbitrary buffers; whatever decodes must encode
// (at another address) and decode again to the same services.
func FuzzDecodeEnum(f *testing.F) {
	f.Add(encodeEnum(8, 0x10000, twoServices), uint64(0x10000), 2, true)
	f.Add(encodeEnum(4, 0x10000, twoServices), uint64(0x10000), 2, false)
	f.Add(encodeEnum(4, 0x10000, twoServices)[:60], uint64(0x10000), 1, false)
	f.Add([]byte{}, uint64(0), 0, true)
	f.Fuzz(func(t *testing.T, buf []byte, base uint64, n int, ptr8 bool) {
		ptrSize := 4
		if ptr8 {
			ptrSize = 8
		}
		got, err := decodeEnum(buf, base, n, ptrSize)
		if err != nil {
			return
		}
		if len(got) != n {
			t.Fatalf("decodeEnum(..., n=%d) returned %d services", n, len(got))
		}
		again, err := decodeEnum(encodeEnum(ptrSize, 0x4000, got), 0x4000, n, ptrSize)
		if err != nil {
			t.Fatalf("decoding re-encoded services: %v", err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// FuzzDecodeQueryConfig does the same for QUERY_SERVICE_CONFIGW, and feeds
// the bytes to decodeDescription too.
func FuzzDecodeQueryConfig(f *testing.F) {
	c := rawConfig{ServiceType: 0x10, StartType: 2, BinaryPath: `C:\x.exe`, Account: "LocalSystem", DisplayName: "X"}
	f.Add(encodeConfig(8, 0x10000, c), uint64(0x10000), true)
	f.Add(encodeConfig(4, 0x10000, c), uint64(0x10000), false)
	f.Fuzz(func(t *testing.T, buf []byte, base uint64, ptr8 bool) {
		ptrSize := 4
		if ptr8 {
			ptrSize = 8
		}
		_, _ = decodeDescription(buf, base, ptrSize) // must not panic
		got, err := decodeQueryConfig(buf, base, ptrSize)
		if err != nil {
			return
		}
		again, err := decodeQueryConfig(encodeConfig(ptrSize, 0x4000, got), 0x4000, ptrSize)
		if err != nil {
			t.Fatalf("decoding re-encoded configuration: %v", err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}
