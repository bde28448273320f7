// Command benchreport turns the harness's measurements into a Markdown table
// ready to paste into docs/performance.md.
//
// Usage:
//
//	benchreport -hyperfine hf.json [-paired paired.json] [-extras extras.tsv] [-ref 'ss -tlnp']
//
// -hyperfine is hyperfine's --export-json output; rows keep its order and its
// command names. -paired is the JSON written by the paired command.
// -extras holds tab-separated lines "name, peak RSS in KiB, output lines,
// owner found (yes/no)" from one extra run of each command. -ref names the
// row the "vs" column divides by (ratio of medians).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hfPath := fs.String("hyperfine", "", "hyperfine --export-json file (required)")
	pairedPath := fs.String("paired", "", "paired -json file")
	extrasPath := fs.String("extras", "", "tab-separated extras: name, peak RSS KiB, lines, owner found")
	ref := fs.String("ref", "ss -tlnp", "name of the reference row")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *hfPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: benchreport -hyperfine FILE [-paired FILE] [-extras FILE] [-ref NAME]")
		return 2
	}
	var in inputs
	if err := readJSON(*hfPath, &in.hyperfine); err != nil {
		fmt.Fprintf(stderr, "benchreport: %v\n", err)
		return 1
	}
	if *pairedPath != "" {
		if err := readJSON(*pairedPath, &in.paired); err != nil {
			fmt.Fprintf(stderr, "benchreport: %v\n", err)
			return 1
		}
	}
	if *extrasPath != "" {
		f, err := os.Open(*extrasPath)
		if err != nil {
			fmt.Fprintf(stderr, "benchreport: opening extras: %v\n", err)
			return 1
		}
		in.extras, err = parseExtras(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "benchreport: %s: %v\n", *extrasPath, err)
			return 1
		}
	}
	if err := writeTable(stdout, in, *ref); err != nil {
		fmt.Fprintf(stderr, "benchreport: %v\n", err)
		return 1
	}
	return 0
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	return nil
}
