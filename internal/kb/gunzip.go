package kb

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
)

// gunzip decompresses an embedded table (written by kbgen.Gzip).
func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("empty table")
	}
	return out, nil
}
