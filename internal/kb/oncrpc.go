package kb

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"
)

//go:embed oncrpc.json
var oncrpcJSON []byte

// Program is an ONC RPC program (RFC 5531) as rpcbind lists it.
type Program struct {
	Number  uint32   `json:"number"`
	Names   []string `json:"names"`
	Title   string   `json:"title"`
	Owners  []Owner  `json:"owners"`
	Note    string   `json:"note,omitempty"`
	Sources []string `json:"sources"`
}

var loadPrograms = sync.OnceValues(func() (map[uint32]*Program, error) { return parsePrograms(oncrpcJSON) })

func parsePrograms(b []byte) (map[uint32]*Program, error) {
	var doc struct {
		Programs []Program `json:"programs"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("oncrpc.json: %w", err)
	}
	m := make(map[uint32]*Program, len(doc.Programs))
	for i := range doc.Programs {
		p := &doc.Programs[i]
		if _, dup := m[p.Number]; dup {
			return nil, fmt.Errorf("oncrpc.json: program %d twice", p.Number)
		}
		m[p.Number] = p
	}
	return m, nil
}

// RPCProgram returns what is known of an ONC RPC program number.
func RPCProgram(n uint32) (*Program, bool) {
	m, err := loadPrograms()
	if err != nil {
		return nil, false
	}
	p, ok := m[n]
	return p, ok
}
