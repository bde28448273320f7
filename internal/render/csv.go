package render

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/whobinds/whobinds/internal/model"
)

// csvHeader names the CSV columns; docs/cli.md describes them. Columns may
// be added at the end, never reordered.
var csvHeader = []string{
	"proto", "family", "local_address", "local_port", "remote_address", "remote_port",
	"state", "netns", "inode", "uid", "pids", "processes", "users", "why", "owners_hidden", "command",
}

// CSV writes a header and one record per socket, every column always.
func CSV(w io.Writer, socks []model.Socket) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for i := range socks {
		s := &socks[i]
		ra, rp := "", ""
		if s.Remote.IsValid() && s.Remote.Port() != 0 {
			ra, rp = s.Remote.Addr().String(), strconv.Itoa(int(s.Remote.Port()))
		}
		cmd := ""
		if len(s.Holders) > 0 && s.Holders[0].Process != nil {
			cmd = quoteArgs(s.Holders[0].Process.Cmdline)
		}
		rec := []string{
			s.Proto.String(), strconv.Itoa(s.Family()), s.Local.Addr().String(), strconv.Itoa(int(s.Local.Port())), ra, rp,
			s.State.String(), s.NetNS.Name, strconv.FormatUint(s.Inode, 10), strconv.FormatUint(uint64(s.UID), 10),
			joinInts(pids(s), " "), strings.Join(names(s), " "), strings.Join(users(s), " "), why(s), s.Hidden, cmd,
		}
		for j := range rec {
			rec[j] = sanitize(rec[j])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
