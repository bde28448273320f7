// Package kb is whobinds' embedded knowledge of ports: what a port is for,
// who is expected to hold it on each operating system, how risky it is to
// expose, and how to stop, disable or restrict it. It also carries the
// IANA service registry and the RPC interface and program tables.
//
// The data is embedded and parsed on first use only, so a command that
// needs no knowledge pays nothing for it:
//
//   - ports.json: curated entries, written by hand, each with sources,
//     and ports.idx, where each entry is in it (gen.go), so that a lookup
//     decodes one entry;
//   - iana.tsv and iana-ranges.tsv: the IANA Service Name and Port Number
//     registry, compacted and sorted from ../shared/data/iana by gen.go
//     (go generate), binary-searched by port;
//   - msrpc.tsv.gz: MS-RPC interface UUIDs from go-msrpc's well-known
//     table (MIT licence, see msrpc-LICENSE), also by gen.go;
//   - oncrpc.json: ONC RPC program numbers.
//
// Tests check every entry (unique keys, ranges, sources, the facts the
// seed documents give) and that the generated tables are current, so a
// corrupt table fails in CI, not at a user's terminal.
package kb

//go:generate go run gen.go -iana ../../../shared/data/iana/service-names-port-numbers.csv -msrpc ../../../shared/data/msrpc/well_known_endpoints.yaml
