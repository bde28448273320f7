package kb

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

// msrpc.tsv.gz is derived from go-msrpc's well-known endpoint table, under
// the MIT licence in msrpc-LICENSE, which must travel with it.
//
//go:embed msrpc.tsv.gz
var msrpcGz []byte

// Interface is a DCE/RPC interface from the MS-RPC table.
type Interface struct {
	// UUID is the interface UUID, lower case.
	UUID string
	// Versions are the interface versions ("v1.0").
	Versions []string
	// Domain is the Microsoft Open Specification ("MS-SAMR").
	Domain string
	// Annotation is the protocol's title.
	Annotation string
	// Name is the interface name ("samr").
	Name string
	// Endpoints are its well-known endpoints ("ncacn_np:lsarpc").
	Endpoints []string
}

var loadMSRPC = sync.OnceValues(func() (map[string][]Interface, error) {
	b, err := gunzip(msrpcGz)
	if err != nil {
		return nil, fmt.Errorf("msrpc.tsv.gz: %w", err)
	}
	return parseMSRPC(b)
})

func parseMSRPC(b []byte) (map[string][]Interface, error) {
	m := map[string][]Interface{}
	for n, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 6 || len(f[0]) != 36 {
			return nil, fmt.Errorf("msrpc.tsv line %d: %q", n+1, line)
		}
		m[f[0]] = append(m[f[0]], Interface{
			UUID: f[0], Versions: split(f[1]), Domain: f[2], Annotation: f[3], Name: f[4], Endpoints: split(f[5]),
		})
	}
	return m, nil
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// RPCInterfaces returns what the MS-RPC table knows of an interface UUID;
// a UUID may name several interfaces (one per protocol that reuses it).
func RPCInterfaces(uuid string) []Interface {
	m, err := loadMSRPC()
	if err != nil {
		return nil
	}
	return m[strings.ToLower(uuid)]
}
