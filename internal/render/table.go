package render

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/whobinds/whobinds/internal/model"
)

// column is one table column: its header and how to fill a cell. The TSV
// form is full; tty is the terminal form, which may be shorter.
type column struct {
	header string
	full   func(*model.Socket) string
	tty    func(*model.Socket) string
	color  func(*model.Socket) string // ANSI colour code, "" for none
}

func columns(o Options) []column {
	cols := []column{
		{header: "PROTO", full: func(s *model.Socket) string { return s.Proto.String() + strconv.Itoa(s.Family()) }},
		{header: "LOCAL", full: addr},
	}
	if o.Remote {
		cols = append(cols, column{header: "REMOTE", full: remote})
	}
	cols = append(cols,
		column{header: "STATE", full: func(s *model.Socket) string { return s.State.String() }, color: stateColor},
		column{
			header: "PID",
			full: func(s *model.Socket) string {
				if len(s.Holders) == 0 {
					return "-"
				}
				return joinInts(pids(s), ",")
			},
			tty: func(s *model.Socket) string {
				switch n := len(s.Holders); n {
				case 0:
					return "-"
				case 1:
					return strconv.Itoa(s.Holders[0].PID)
				default:
					return strconv.Itoa(s.Holders[0].PID) + " +" + strconv.Itoa(n-1)
				}
			},
		},
		column{
			header: "PROCESS",
			full: func(s *model.Socket) string {
				if len(s.Holders) == 0 {
					return noOwner(s)
				}
				return sanitize(strings.Join(names(s), ","))
			},
			color: func(s *model.Socket) string {
				if s.Hidden != "" {
					return yellow
				}
				return ""
			},
		},
		column{header: "USER", full: func(s *model.Socket) string {
			if u := users(s); len(u) > 0 {
				return strings.Join(u, ",")
			}
			return "-"
		}},
		column{header: "WHY", full: func(s *model.Socket) string { return sanitize(why(s)) }},
	)
	if o.NetNS {
		cols = append(cols, column{header: "NETNS", full: func(s *model.Socket) string { return sanitize(s.NetNS.Name) }})
	}
	if o.Wide {
		cols = append(cols,
			column{header: "INODE", full: func(s *model.Socket) string { return strconv.FormatUint(s.Inode, 10) }},
			column{header: "UID", full: func(s *model.Socket) string { return strconv.FormatUint(uint64(s.UID), 10) }},
			column{header: "RECV-Q", full: func(s *model.Socket) string { return strconv.FormatUint(uint64(s.RecvQ), 10) }},
			column{header: "SEND-Q", full: func(s *model.Socket) string { return strconv.FormatUint(uint64(s.SendQ), 10) }},
			column{header: "COMMAND", full: func(s *model.Socket) string {
				if len(s.Holders) == 0 || s.Holders[0].Process == nil {
					return "-"
				}
				return sanitize(quoteArgs(s.Holders[0].Process.Cmdline))
			}},
		)
	}
	return cols
}

const (
	bold   = "1"
	green  = "32"
	yellow = "33"
	cyan   = "36"
)

func stateColor(s *model.Socket) string {
	if s.IsListener() {
		return green
	}
	return ""
}

// Table writes one row per socket. On a terminal: a header, aligned
// columns, the last column cut to the width, colour if asked. Otherwise:
// tab-separated fields, no header, nothing cut (docs/cli.md lists the
// columns).
func Table(w io.Writer, socks []model.Socket, o Options) error {
	cols := columns(o)
	rows := make([][]string, len(socks))
	for i := range socks {
		row := make([]string, len(cols))
		for j, c := range cols {
			if o.TTY && c.tty != nil {
				row[j] = c.tty(&socks[i])
			} else {
				row[j] = c.full(&socks[i])
			}
		}
		rows[i] = row
	}
	var b strings.Builder
	if !o.TTY {
		for _, row := range rows {
			b.WriteString(strings.Join(row, "\t"))
			b.WriteByte('\n')
		}
		_, err := io.WriteString(w, b.String())
		return err
	}

	widths := make([]int, len(cols))
	for j, c := range cols {
		widths[j] = utf8.RuneCountInString(c.header)
	}
	for _, row := range rows {
		for j, cell := range row {
			widths[j] = max(widths[j], utf8.RuneCountInString(cell))
		}
	}
	// Cut the last column first, then the one before, to fit the width.
	if o.Width > 0 {
		total := func() int {
			n := 0
			for _, w := range widths {
				n += w + 2
			}
			return n - 2
		}
		for j := len(widths) - 1; j >= 0 && total() > o.Width; j-- {
			widths[j] = max(len(cols[j].header), widths[j]-(total()-o.Width))
		}
	}
	writeRow := func(cells []string, colorOf func(j int) string) {
		for j, cell := range cells {
			cell = cut(cell, widths[j])
			pad := widths[j] - utf8.RuneCountInString(cell)
			if c := colorOf(j); c != "" && o.Color {
				cell = "\x1b[" + c + "m" + cell + "\x1b[0m"
			}
			b.WriteString(cell)
			if j < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		b.WriteByte('\n')
	}
	headers := make([]string, len(cols))
	for j, c := range cols {
		headers[j] = c.header
	}
	writeRow(headers, func(int) string { return bold })
	for i, row := range rows {
		writeRow(row, func(j int) string {
			if cols[j].color == nil {
				return ""
			}
			return cols[j].color(&socks[i])
		})
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cut shortens s to n runes, marking the cut with an ellipsis.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:n])
	}
	return string([]rune(s)[:n-1]) + "…"
}
