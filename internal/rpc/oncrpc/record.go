package oncrpc

// This file holds record marking (RFC 5531 §11), which frames RPC messages
// on a byte stream: each record is one or more fragments, each fragment a
// four-byte big-endian header — the top bit set on the record's last
// fragment, the low 31 bits the fragment's length — and that many bytes.

import (
	"encoding/binary"
	"fmt"
	"io"
)

// lastFragment is the record mark's last-fragment bit.
const lastFragment = 1 << 31

// readChunk bounds each step of reading a fragment, so that memory grows
// with the bytes that arrive, not with the length a fragment claims.
const readChunk = 64 << 10

// appendRecord appends payload as one record of one fragment.
func appendRecord(dst, payload []byte) []byte {
	dst = appendUint32(dst, lastFragment|uint32(len(payload)))
	return append(dst, payload...)
}

// recordReader reads records from a stream within limits. Its byte count
// may be shared by several readers (one per connection) so that one
// budget covers a whole Dump.
type recordReader struct {
	r   io.Reader
	lim limits
	// read counts the bytes taken from the stream, headers included,
	// against lim.bytes.
	read *int
	// records counts the records read, to recognise text from a non-RPC
	// service in the first one.
	records int
}

func newRecordReader(r io.Reader, lim limits, read *int) *recordReader {
	if read == nil {
		read = new(int)
	}
	return &recordReader{r: r, lim: lim, read: read}
}

// Next reads one record and returns its payload, the fragments joined.
// It returns io.EOF when the stream ends cleanly before a record, and an
// error wrapping ErrLimit when the record would pass a limit; it fails
// before reading the bytes of a fragment that would pass it.
func (rr *recordReader) Next() ([]byte, error) {
	var rec []byte
	for frag := 0; ; frag++ {
		if frag == rr.lim.fragments {
			return nil, fmt.Errorf("record of more than %d fragments: %w", rr.lim.fragments, ErrLimit)
		}
		var h [4]byte
		if err := rr.readFull(h[:]); err != nil {
			if err == io.EOF {
				if frag == 0 {
					return nil, io.EOF
				}
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading the header of fragment %d: %w", frag, err)
		}
		mark := binary.BigEndian.Uint32(h[:])
		n := mark &^ lastFragment
		if uint64(len(rec))+uint64(n) > uint64(rr.lim.record) {
			if rr.records == 0 && frag == 0 && isText(h[:]) {
				return nil, fmt.Errorf("the answer begins %q: %w", h[:], ErrNotRPC)
			}
			return nil, fmt.Errorf("fragment %d of %d bytes makes the record longer than %d bytes: %w", frag, n, rr.lim.record, ErrLimit)
		}
		var err error
		if rec, err = rr.readAppend(rec, int(n)); err != nil {
			return nil, fmt.Errorf("reading fragment %d of %d bytes: %w", frag, n, err)
		}
		if mark&lastFragment != 0 {
			rr.records++
			return rec, nil
		}
	}
}

// readFull fills p, within the byte budget. A stream that ends within p
// gives io.ErrUnexpectedEOF, one that ends before it io.EOF.
func (rr *recordReader) readFull(p []byte) error {
	if err := rr.charge(len(p)); err != nil {
		return err
	}
	_, err := io.ReadFull(rr.r, p)
	return err
}

// readAppend appends n bytes of the stream to dst, a chunk at a time.
func (rr *recordReader) readAppend(dst []byte, n int) ([]byte, error) {
	if err := rr.charge(n); err != nil {
		return dst, err
	}
	for n > 0 {
		k := min(n, readChunk)
		if cap(dst)-len(dst) < k {
			// Double, but never past the record or byte limit: the
			// bytes allocated stay under twice the record's.
			grown := make([]byte, len(dst), min(max(2*cap(dst), len(dst)+k), max(min(rr.lim.record, rr.lim.bytes), len(dst)+k)))
			copy(grown, dst)
			dst = grown
		}
		if _, err := io.ReadFull(rr.r, dst[len(dst):len(dst)+k]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return dst, err
		}
		dst = dst[:len(dst)+k]
		n -= k
	}
	return dst, nil
}

// charge takes n bytes from the budget, or fails with ErrLimit.
func (rr *recordReader) charge(n int) error {
	if n > rr.lim.bytes-*rr.read {
		return fmt.Errorf("more than %d bytes in all: %w", rr.lim.bytes, ErrLimit)
	}
	*rr.read += n
	return nil
}

// isText reports whether b is printable ASCII or line breaks, as the
// greeting or status line of a text protocol (HTTP, SSH, SMTP) is. As a
// record mark it would claim a fragment of at least 0x09090909 bytes.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\r' && c != '\n' && c != '\t' {
			return false
		}
	}
	return true
}
