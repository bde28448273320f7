// Package kbgen turns the source registries into the compact tables that
// package kb embeds. kb's gen.go runs it (go generate); kb's tests run it
// again to check that the committed tables are current. It has no data of
// its own, so it builds before the tables exist.
package kbgen

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// CompactIANA reads the IANA registry CSV and returns the two tables kb
// embeds, as TSV lines "proto port port_end name description": the single
// ports sorted by protocol and port (registry order within a port, so the
// first name is the primary one and the rest are aliases), and the port
// ranges sorted the same way. Reserved and unassigned rows (no service
// name) and other protocols (sctp, dccp) are dropped.
func CompactIANA(r io.Reader) (singles, ranges []byte, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("iana: header: %w", err)
	}
	if len(head) < 4 || head[0] != "Service Name" || head[1] != "Port Number" || head[2] != "Transport Protocol" || head[3] != "Description" {
		return nil, nil, fmt.Errorf("iana: unexpected header %q", head)
	}
	type row struct {
		proto  string
		lo, hi uint16
		line   string
	}
	var rows []row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("iana: line %d: %w", line, err)
		}
		if len(rec) < 4 {
			return nil, nil, fmt.Errorf("iana: line %d: %d fields", line, len(rec))
		}
		name, ports, proto, desc := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), rec[2], rec[3]
		if name == "" || ports == "" || (proto != "tcp" && proto != "udp") {
			continue
		}
		lo, hi, err := parsePorts(ports)
		if err != nil {
			return nil, nil, fmt.Errorf("iana: line %d: %w", line, err)
		}
		rows = append(rows, row{proto, lo, hi, fmt.Sprintf("%s\t%d\t%d\t%s\t%s\n", proto, lo, hi, clean(name), clean(desc))})
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		return cmp.Or(strings.Compare(a.proto, b.proto), cmp.Compare(a.lo, b.lo))
	})
	var s, g bytes.Buffer
	for _, r := range rows {
		if r.hi != 0 {
			g.WriteString(r.line)
		} else {
			s.WriteString(r.line)
		}
	}
	return s.Bytes(), g.Bytes(), nil
}

// IndexPorts reads kb's ports.json and returns its index: a TSV line
// "proto port port_end start end" per protocol of each entry, where
// [start, end) are the entry's bytes in the file, so that a lookup decodes
// one entry instead of the whole file.
func IndexPorts(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	for _, want := range []any{json.Delim('{'), "ports", json.Delim('[')} {
		tok, err := dec.Token()
		if err != nil || tok != want {
			return nil, fmt.Errorf("ports.json: want %v at the start, got %v (%v)", want, tok, err)
		}
	}
	var out bytes.Buffer
	for dec.More() {
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("ports.json: entry at byte %d: %w", start, err)
		}
		end := dec.InputOffset()
		start += int64(bytes.IndexByte(b[start:end], '{'))
		var e struct {
			Port    uint16   `json:"port"`
			PortEnd uint16   `json:"port_end"`
			Protos  []string `json:"protos"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("ports.json: entry at byte %d: %w", start, err)
		}
		for _, p := range e.Protos {
			fmt.Fprintf(&out, "%s\t%d\t%d\t%d\t%d\n", p, e.Port, e.PortEnd, start, end)
		}
	}
	return out.Bytes(), nil
}

func parsePorts(s string) (lo, hi uint16, err error) {
	a, z, isRange := strings.Cut(s, "-")
	l, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("port %q: %w", s, err)
	}
	if !isRange {
		return uint16(l), 0, nil
	}
	h, err := strconv.ParseUint(z, 10, 16)
	if err != nil || h < l {
		return 0, 0, fmt.Errorf("port range %q", s)
	}
	return uint16(l), uint16(h), nil
}

// clean makes a field safe for one TSV cell.
func clean(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\t", " ", "\r", " ", "\n", " ").Replace(s)), " ")
}

// CompactMSRPC reads go-msrpc's well_known_endpoints.yaml and returns the
// TSV kb embeds: "uuid versions domain annotation if_name endpoints", the
// lists comma-separated. The YAML is read by shape (a list of flat maps
// whose values are scalars or lists), which is all that file uses; any
// other shape is an error.
func CompactMSRPC(r io.Reader) ([]byte, error) {
	type iface struct {
		uuid, domain, annotation, name string
		versions, endpoints            []string
	}
	var (
		all  []iface
		cur  *iface
		list *[]string // the block list being read
	)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "- uuid: "):
			all = append(all, iface{uuid: strings.TrimPrefix(line, "- uuid: ")})
			cur, list = &all[len(all)-1], nil
			continue
		case cur == nil:
			return nil, fmt.Errorf("msrpc: line %d: content before the first entry", n)
		case strings.HasPrefix(line, "  - "):
			if list != nil {
				v, err := yamlScalar(strings.TrimPrefix(line, "  - "))
				if err != nil {
					return nil, fmt.Errorf("msrpc: line %d: %w", n, err)
				}
				*list = append(*list, v)
			}
			continue
		case !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   "):
			return nil, fmt.Errorf("msrpc: line %d: unexpected indentation: %q", n, line)
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "  "), ":")
		if !ok {
			return nil, fmt.Errorf("msrpc: line %d: no key: %q", n, line)
		}
		v = strings.TrimSpace(v)
		list = nil
		var dst *string
		var dstList *[]string
		switch k {
		case "domain":
			dst = &cur.domain
		case "annotation":
			dst = &cur.annotation
		case "if_name":
			dst = &cur.name
		case "if_versions", "if_version":
			dstList = &cur.versions
		case "endpoints":
			dstList = &cur.endpoints
		case "keywords":
			var ignore []string
			dstList = &ignore
		default:
			return nil, fmt.Errorf("msrpc: line %d: unknown key %q", n, k)
		}
		switch {
		case dst != nil:
			s, err := yamlScalar(v)
			if err != nil {
				return nil, fmt.Errorf("msrpc: line %d: %w", n, err)
			}
			*dst = s
		case v == "":
			list = dstList // a block list follows
		case strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]"):
			for _, item := range strings.Split(strings.Trim(v, "[]"), ",") {
				if item = strings.TrimSpace(item); item != "" {
					s, err := yamlScalar(item)
					if err != nil {
						return nil, fmt.Errorf("msrpc: line %d: %w", n, err)
					}
					*dstList = append(*dstList, s)
				}
			}
		default:
			return nil, fmt.Errorf("msrpc: line %d: %s: want a list", n, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, f := range all {
		if !isUUID(f.uuid) {
			return nil, fmt.Errorf("msrpc: uuid %q", f.uuid)
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\n", strings.ToLower(f.uuid), strings.Join(f.versions, ","),
			clean(f.domain), clean(f.annotation), clean(f.name), strings.Join(f.endpoints, ","))
	}
	return b.Bytes(), nil
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range []byte(s) {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F'):
			return false
		}
	}
	return true
}

// yamlScalar reads a plain or single-quoted YAML scalar.
func yamlScalar(s string) (string, error) {
	if strings.HasPrefix(s, "'") {
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return "", fmt.Errorf("unterminated quote: %s", s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	}
	if strings.HasPrefix(s, `"`) || strings.ContainsAny(s, "{}&*!|>%@`") {
		return "", fmt.Errorf("unsupported YAML scalar: %s", s)
	}
	return s, nil
}

// Gzip compresses b without a name or time, so that the output depends
// only on b (and the compressor's version); gen.go uses it.
func Gzip(b []byte) ([]byte, error) {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
