//go:build ignore

// gen.go writes the compact tables kb embeds from the source registries.
// Run it with go generate in this directory; commit the results.
package main

import (
	"flag"
	"io"
	"log"
	"os"

	"github.com/whobinds/whobinds/internal/kb/kbgen"
)

func main() {
	iana := flag.String("iana", "", "the IANA registry CSV")
	msrpc := flag.String("msrpc", "", "go-msrpc's well_known_endpoints.yaml")
	flag.Parse()
	write(*iana, "iana.tsv.gz", kbgen.CompactIANA)
	write(*msrpc, "msrpc.tsv.gz", kbgen.CompactMSRPC)
}

func write(src, dst string, compact func(io.Reader) ([]byte, error)) {
	f, err := os.Open(src)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	b, err := compact(f)
	if err != nil {
		log.Fatal(err)
	}
	z, err := kbgen.Gzip(b)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(dst, z, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%s: %d bytes (%d before compression)", dst, len(z), len(b))
}
