package probe

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean makes text a server sent safe to print on a terminal and in one
// line: bytes that are not UTF-8, control characters (ESC and the C1
// controls that start terminal escape sequences, CR, LF, BEL, DEL) and
// invisible format characters (bidirectional overrides, zero-width
// characters) are written as Go escapes (\x1b, \r, \u202e); a tab becomes
// a space. The result has at most max runes of the input, "…" marking a
// cut; max <= 0 means no limit.
func Clean(b []byte, max int) string {
	var s strings.Builder
	n := 0
	for len(b) > 0 {
		if max > 0 && n == max {
			s.WriteString("…")
			break
		}
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			s.WriteString(`\x`)
			s.WriteByte(hexDigits[b[0]>>4])
			s.WriteByte(hexDigits[b[0]&0xf])
		case r == '\t':
			s.WriteByte(' ')
		case r == '\r':
			s.WriteString(`\r`)
		case r == '\n':
			s.WriteString(`\n`)
		case r == ' ' || unicode.IsPrint(r):
			s.WriteRune(r)
		case r < 0x100:
			s.WriteString(`\x`)
			s.WriteByte(hexDigits[r>>4])
			s.WriteByte(hexDigits[r&0xf])
		default:
			digits := 4
			if r > 0xffff {
				digits = 8
				s.WriteString(`\U`)
			} else {
				s.WriteString(`\u`)
			}
			for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
				s.WriteByte(hexDigits[(r>>shift)&0xf])
			}
		}
		b = b[size:]
		n++
	}
	return s.String()
}

// cleanString is Clean for a string.
func cleanString(s string, max int) string { return Clean([]byte(s), max) }

const hexDigits = "0123456789abcdef"

// firstLine returns b up to its first line end, without the CR LF.
func firstLine(b []byte) []byte {
	for i, c := range b {
		if c == '\n' {
			b = b[:i]
			break
		}
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}
