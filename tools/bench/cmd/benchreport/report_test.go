package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const hfFixture = `{"results":[
 {"command":"ss -tlnp","median":0.080,"min":0.071,"max":0.089,"user":0.010,"system":0.069,"times":[0.08]},
 {"command":"whobinds -t PORT","median":0.020,"min":0.015,"max":0.030,"user":0.005,"system":0.010,"times":[0.02]},
 {"command":"netstat -tlnp","median":0.160,"min":0.150,"max":0.170,"user":0.1,"system":0.05,"times":[0.16]}
]}`

const pairedFixture = `[{"name":"whobinds -t PORT","reference":"ss -tlnp 'sport = :PORT'","pairs":5,"median_ratio":0.25}]`

func TestWriteTable(t *testing.T) {
	var in inputs
	if err := json.Unmarshal([]byte(hfFixture), &in.hyperfine); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(pairedFixture), &in.paired); err != nil {
		t.Fatal(err)
	}
	var err error
	in.extras, err = parseExtras(strings.NewReader("ss -tlnp\t3788\t52\tyes\nwhobinds -t PORT\t4096\t2\tyes\nnetstat -tlnp\t-\t53\tno\n"))
	if err != nil {
		t.Fatalf("parseExtras() = %v; want no error", err)
	}
	var b strings.Builder
	if err := writeTable(&b, in, "ss -tlnp"); err != nil {
		t.Fatalf("writeTable() = %v; want no error", err)
	}
	want := "| command | median wall s | min-max s | mean cpu s | peak RSS MiB | vs `ss -tlnp` (medians) | paired ratio | paired against | lines | owner found |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---|---:|:-:|\n" +
		"| **`ss -tlnp`** (reference) | 0.080 | 0.071-0.089 | 0.079 | 3.7 | 1.00 | 1.00 | - | 52 | yes |\n" +
		"| `whobinds -t PORT` | 0.020 | 0.015-0.030 | 0.015 | 4.0 | 0.25 | 0.25 | `ss -tlnp 'sport = :PORT'` (5 pairs) | 2 | yes |\n" +
		"| `netstat -tlnp` | 0.160 | 0.150-0.170 | 0.150 | - | 2.00 | - | - | 53 | no |\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeTable() mismatch (-want +got):\n%s", diff)
	}
}

func TestParseExtrasRejectsShortLines(t *testing.T) {
	if _, err := parseExtras(strings.NewReader("a\t1\n")); err == nil {
		t.Errorf("parseExtras(2 fields) = nil error; want an error")
	}
}
