package portrange

// This file parses netsh output. netsh writes in the console's code page
// (an OEM code page such as 850 or 932 when its output is a pipe), and a
// file saved from PowerShell is UTF-16LE with a byte order mark. The labels
// are localized; the numbers, the dashes under the column labels and the
// '*' are plain ASCII in every code page netsh uses. So the parsers look at
// the shape of the lines only, and pass any other byte through untouched.
//
// "netsh interface ipv4 show excludedportrange protocol=tcp" (English):
//
//	Protocol tcp Port Exclusion Ranges
//
//	Start Port    End Port
//	----------    --------
//	      5357        5357
//	     50000       50059     *
//
//	* - Administered port exclusions.
//
// "netsh interface ipv4 show dynamicport tcp" (English):
//
//	Protocol tcp Dynamic Port Range
//	---------------------------------
//	Start Port      : 49152
//	Number of Ports : 16384

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/whobinds/whobinds/internal/model"
)

// ParseExcluded parses the output of
// "netsh interface ipv4|ipv6 show excludedportrange protocol=tcp|udp" by
// its structure: each range is a line of two port numbers, optionally
// followed by '*' (Administered). A table with no rows (its dashed
// separator line and no numbers) is an empty list. Empty output is
// ErrNoOutput; text that has neither rows nor the dashed separator, or a
// row with columns or values this parser does not know, is
// ErrUnknownLayout. proto and family label the ranges.
func ParseExcluded(out string, proto model.Proto, family int) ([]Range, error) {
	if err := checkArgs(proto, family); err != nil {
		return nil, err
	}
	text := decode(out)
	if strings.TrimSpace(text) == "" {
		return nil, ErrNoOutput
	}
	var (
		ranges    []Range
		separator bool
	)
	for i, line := range lines(text) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && allDashes(f):
			separator = true
		case len(f) >= 2 && isDigits(f[0]) && isDigits(f[1]):
			if len(f) > 3 || len(f) == 3 && f[2] != "*" {
				return nil, fmt.Errorf("line %d %q: a row with more than a start, an end and '*': %w",
					i+1, clip(line), ErrUnknownLayout)
			}
			first, okf := port(f[0])
			last, okl := port(f[1])
			if !okf || !okl || first > last {
				return nil, fmt.Errorf("line %d %q: not a port range: %w", i+1, clip(line), ErrUnknownLayout)
			}
			ranges = append(ranges, Range{Proto: proto, Family: family, First: first, Last: last, Administered: len(f) == 3})
		}
	}
	if len(ranges) == 0 && !separator {
		return nil, fmt.Errorf("no range rows and no table in %q: %w", clip(firstLine(text)), ErrUnknownLayout)
	}
	return ranges, nil
}

// ParseDynamic parses the output of
// "netsh interface ipv4|ipv6 show dynamicport tcp|udp": the first two
// integers are the start port and the number of ports. An integer is a run
// of ASCII digits not joined to an ASCII letter, so "ipv4" in a label is
// not one. Empty output is ErrNoOutput; fewer than two integers, or a
// range that does not fit in 1-65535, is ErrUnknownLayout.
func ParseDynamic(out string, proto model.Proto, family int) (Range, error) {
	if err := checkArgs(proto, family); err != nil {
		return Range{}, err
	}
	text := decode(out)
	if strings.TrimSpace(text) == "" {
		return Range{}, ErrNoOutput
	}
	nums := integers(text, 2)
	if len(nums) < 2 {
		return Range{}, fmt.Errorf("no start port and count in %q: %w", clip(firstLine(text)), ErrUnknownLayout)
	}
	start, count := nums[0], nums[1]
	if start < 1 || count < 1 || start+count-1 > 65535 {
		return Range{}, fmt.Errorf("start port %d and count %d do not make a port range: %w", start, count, ErrUnknownLayout)
	}
	return Range{Proto: proto, Family: family, First: uint16(start), Last: uint16(start + count - 1)}, nil
}

// decode turns netsh output into text: UTF-16 (with a byte order mark, or
// little-endian without one, as PowerShell and some redirections write it)
// is decoded; a UTF-8 byte order mark is dropped; anything else is kept as
// it is, since only its ASCII bytes matter.
func decode(s string) string {
	switch {
	case strings.HasPrefix(s, "\xff\xfe"):
		return utf16String(s[2:], false)
	case strings.HasPrefix(s, "\xfe\xff"):
		return utf16String(s[2:], true)
	case strings.HasPrefix(s, "\xef\xbb\xbf"):
		return s[3:]
	case looksUTF16LE(s):
		return utf16String(s, false)
	}
	return s
}

// looksUTF16LE reports whether s is UTF-16LE without a byte order mark:
// netsh's text is mostly ASCII, so in UTF-16LE most odd bytes are zero
// while the even ones are not.
func looksUTF16LE(s string) bool {
	if len(s) < 4 {
		return false
	}
	var oddZero, evenZero int
	for i := 0; i+1 < len(s); i += 2 {
		if s[i] == 0 {
			evenZero++
		}
		if s[i+1] == 0 {
			oddZero++
		}
	}
	pairs := len(s) / 2
	return evenZero == 0 && oddZero*4 >= pairs*3
}

// utf16String decodes s as UTF-16; a trailing odd byte is dropped and
// unpaired surrogates become U+FFFD.
func utf16String(s string, bigEndian bool) string {
	u := make([]uint16, len(s)/2)
	for i := range u {
		lo, hi := s[2*i], s[2*i+1]
		if bigEndian {
			lo, hi = hi, lo
		}
		u[i] = uint16(lo) | uint16(hi)<<8
	}
	return string(utf16.Decode(u))
}

// lines splits text at CRLF, LF or a lone CR.
func lines(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	return strings.Split(text, "\n")
}

func firstLine(text string) string {
	for _, l := range lines(text) {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// clip shortens s for an error message.
func clip(s string) string {
	s = strings.TrimSpace(s)
	const most = 80
	if len(s) > most {
		return s[:most] + "..."
	}
	return s
}

func allDashes(fields []string) bool {
	for _, f := range fields {
		if strings.Trim(f, "-") != "" {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// port parses a port number, 1-65535.
func port(s string) (uint16, bool) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint16(n), true
}

// integers returns up to limit integers from text: runs of ASCII digits that
// no ASCII letter touches. A run too long for an int counts as -1.
func integers(text string, limit int) []int {
	var nums []int
	for i := 0; i < len(text) && len(nums) < limit; {
		if !isDigit(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		joined := i > 0 && isLetter(text[i-1]) || j < len(text) && isLetter(text[j])
		if !joined {
			n, err := strconv.Atoi(text[i:j])
			if err != nil || n > 1<<20 {
				n = -1
			}
			nums = append(nums, n)
		}
		i = j
	}
	return nums
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
