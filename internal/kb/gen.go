//go:build ignore

// gen.go writes the tables kb embeds: the IANA registry and the MS-RPC
// interface table from the source registries, and the index of ports.json.
// Run it with go generate in this directory; commit the results.
package main

import (
	"flag"
	"log"
	"os"

	"github.com/whobinds/whobinds/internal/kb/kbgen"
)

func main() {
	iana := flag.String("iana", "", "the IANA registry CSV")
	msrpc := flag.String("msrpc", "", "go-msrpc's well_known_endpoints.yaml")
	flag.Parse()

	f := open(*iana)
	singles, ranges, err := kbgen.CompactIANA(f)
	check(err)
	write("iana.tsv", singles)
	write("iana-ranges.tsv", ranges)

	f = open(*msrpc)
	table, err := kbgen.CompactMSRPC(f)
	check(err)
	z, err := kbgen.Gzip(table)
	check(err)
	write("msrpc.tsv.gz", z)

	ports, err := os.ReadFile("ports.json")
	check(err)
	index, err := kbgen.IndexPorts(ports)
	check(err)
	write("ports.idx", index)
}

func open(path string) *os.File {
	f, err := os.Open(path)
	check(err)
	return f
}

func write(name string, b []byte) {
	check(os.WriteFile(name, b, 0o644))
	log.Printf("%s: %d bytes", name, len(b))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
