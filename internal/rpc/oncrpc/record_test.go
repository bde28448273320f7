package oncrpc

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendRecord(t *testing.T) {
	got := appendRecord(nil, []byte("abcde"))
	want := []byte{0x80, 0, 0, 5, 'a', 'b', 'c', 'd', 'e'}
	if !bytes.Equal(got, want) {
		t.Errorf("appendRecord(abcde) = % x; want % x", got, want)
	}
	got = appendFragments(nil, []byte("abcde"), 2, 0)
	want = []byte{0, 0, 0, 2, 'a', 'b', 0, 0, 0, 0, 0x80, 0, 0, 3, 'c', 'd', 'e'}
	if !bytes.Equal(got, want) {
		t.Errorf("appendFragments(abcde, 2, 0) = % x; want % x", got, want)
	}
}

func TestRecordReader(t *testing.T) {
	small := limits{record: 64, bytes: 256, entries: 10, fragments: 4}
	tests := []struct {
		name    string
		stream  []byte
		lim     limits
		want    []string // the records read before the error
		wantErr error    // io.EOF for a clean end
	}{
		{"one record", appendRecord(nil, []byte("hello")), small, []string{"hello"}, io.EOF},
		{"empty record", appendRecord(nil, nil), small, []string{""}, io.EOF},
		{"fragments joined", appendFragments(nil, []byte("hello world"), 3, 4), small, []string{"hello world"}, io.EOF},
		{"empty fragments", appendFragments(nil, []byte("hi"), 0, 0, 1), small, []string{"hi"}, io.EOF},
		{"two records", appendRecord(appendFragments(nil, []byte("first"), 1), []byte("second")), small, []string{"first", "second"}, io.EOF},
		{"no record", nil, small, nil, io.EOF},
		{"header cut", []byte{0x80, 0}, small, nil, io.ErrUnexpectedEOF},
		{"body cut", []byte{0x80, 0, 0, 9, 'a', 'b'}, small, nil, io.ErrUnexpectedEOF},
		{"second fragment missing", []byte{0, 0, 0, 1, 'a'}, small, nil, io.ErrUnexpectedEOF},
		{"fragment at the record limit", appendRecord(nil, make([]byte, 64)), small, []string{string(make([]byte, 64))}, io.EOF},
		{"fragment over the record limit", appendRecord(nil, make([]byte, 65)), small, nil, ErrLimit},
		{"fragments over the record limit", appendFragments(nil, make([]byte, 65), 40), small, nil, ErrLimit},
		{"huge claim", []byte{0xff, 0xff, 0xff, 0xff}, small, nil, ErrLimit},
		{"huge claim, not last", []byte{0x7f, 0xff, 0xff, 0xff}, small, nil, ErrLimit},
		{"fragments at the limit", appendFragments(nil, []byte("abcd"), 1, 1, 1), small, []string{"abcd"}, io.EOF},
		{"fragments over the limit", appendFragments(nil, []byte("abcde"), 1, 1, 1, 1), small, nil, ErrLimit},
		{"endless empty fragments", bytes.Repeat([]byte{0, 0, 0, 0}, 1000), small, nil, ErrLimit},
		{"bytes over the limit", bytes.Repeat(appendRecord(nil, make([]byte, 60)), 5), small, []string{string(make([]byte, 60)), string(make([]byte, 60)), string(make([]byte, 60)), string(make([]byte, 60))}, ErrLimit},
		{"HTTP", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), small, nil, ErrNotRPC},
		{"SSH", []byte("SSH-2.0-OpenSSH_9.2\r\n"), small, nil, ErrNotRPC},
		{"text after a record", append(appendRecord(nil, []byte("ok")), "HTTP/1.1 200 OK\r\n"...), small, []string{"ok"}, ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := newRecordReader(bytes.NewReader(tt.stream), tt.lim, nil)
			var got []string
			var err error
			for {
				var rec []byte
				if rec, err = rr.Next(); err != nil {
					break
				}
				got = append(got, string(rec))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Next() = %v; want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if *rr.read > tt.lim.bytes {
				t.Errorf("read %d bytes; want at most %d", *rr.read, tt.lim.bytes)
			}
		})
	}
}

// TestRecordReaderGrowsWithData shows that a fragment claiming far more
// than arrives allocates about what arrives, not what it claims.
func TestRecordReaderGrowsWithData(t *testing.T) {
	lim := limits{record: 512 << 20, bytes: 512 << 20, fragments: 4}
	stream := append([]byte{0x8f, 0xff, 0xff, 0xff}, strings.Repeat("x", 100<<10)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rr := newRecordReader(bytes.NewReader(stream), lim, nil)
	_, err := rr.Next()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Next() = %v; want io.ErrUnexpectedEOF", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("Next() on a claim of 256 MiB with 100 KiB sent allocated %d bytes; want under 4 MiB", n)
	}
}
