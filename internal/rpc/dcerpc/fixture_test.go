package dcerpc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCapturedServers replays what real endpoint mappers sent to this
// client (testdata/*.hex, every byte the server sent) and compares the
// decoded map with what Impacket's epm_reference.py printed for the same
// server at the same time (testdata/*.impacket.txt). It also checks that
// the client sent exactly the golden bind and ept_lookup request.
func TestCapturedServers(t *testing.T) {
	captures, err := filepath.Glob("testdata/*.hex")
	if err != nil || len(captures) == 0 {
		t.Fatalf("no captures in testdata: %v", err)
	}
	for _, path := range captures {
		name := strings.TrimSuffix(filepath.Base(path), ".hex")
		t.Run(name, func(t *testing.T) {
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			server := unhexString(t, string(text))
			var sent bytes.Buffer
			s := newSession(struct {
				io.Reader
				io.Writer
			}{bytes.NewReader(server), &sent}, Limits{})
			entries, err := s.lookupAll()
			if err != nil {
				t.Fatalf("replaying %s: %v", path, err)
			}
			want := readReference(t, filepath.Join("testdata", name+".impacket.txt"))
			if diff := cmp.Diff(want, referenceLines(entries)); diff != "" {
				t.Errorf("%s decoded differently from Impacket (-impacket +whobinds):\n%s", name, diff)
			}
			if s.read != len(server) {
				t.Errorf("read %d of the %d bytes the server sent", s.read, len(server))
			}
			// One bind, then one ept_lookup per reply; the first is golden.
			wantSent := unhexString(t, goldenBind+goldenLookup)
			if got := sent.Bytes(); len(got) < len(wantSent) || !bytes.Equal(got[:len(wantSent)], wantSent) {
				t.Errorf("client sent %x; want it to start with %x", got, wantSent)
			}
		})
	}
}

// referenceLines formats entries as epm_reference.py prints them.
func referenceLines(entries []Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s\t%s\t%s\t%s", e.Interface, e.Version, e.Binding(), e.Annotation))
	}
	return out
}

func readReference(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}
