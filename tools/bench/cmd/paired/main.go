// Command paired times commands against their reference command in
// alternation (A B A B ...) and reports, for each pair, the median of the
// per-pair ratios A/B. On a noisy machine that is steadier than dividing two
// medians taken minutes apart: a slow moment hits both halves of a pair.
//
// Usage:
//
//	paired [-pairs 5] [-warmup 1] [-json FILE] SPEC
//
// SPEC is a file of tab-separated lines "name, command, reference name,
// reference command". Commands are split into words like a shell would
// (quotes, backslashes) but run without one; their output goes to /dev/null.
// Each line is timed on its own: warm-up pairs first, then -pairs counted
// pairs. A command that exits non-zero is an error.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// spec is one line of the spec file.
type spec struct {
	name, command       string
	refName, refCommand string
}

// result is what paired reports for one spec line (JSON output).
type result struct {
	Name        string    `json:"name"`
	Command     string    `json:"command"`
	Reference   string    `json:"reference"`
	RefCommand  string    `json:"reference_command"`
	Pairs       int       `json:"pairs"`
	Times       []float64 `json:"times"`           // wall seconds of the command
	RefTimes    []float64 `json:"reference_times"` // wall seconds of the reference
	CPU         []float64 `json:"cpu"`             // user+sys seconds of the command
	Ratios      []float64 `json:"ratios"`          // Times[i] / RefTimes[i]
	MedianRatio float64   `json:"median_ratio"`
	Median      float64   `json:"median"`
	RefMedian   float64   `json:"reference_median"`
	MedianCPU   float64   `json:"median_cpu"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("paired", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pairs := fs.Int("pairs", 5, "counted pairs per spec line")
	warmup := fs.Int("warmup", 1, "uncounted warm-up pairs per spec line")
	jsonOut := fs.String("json", "", "write the results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 || *pairs < 1 || *warmup < 0 {
		fmt.Fprintln(stderr, "usage: paired [-pairs N>=1] [-warmup N>=0] [-json FILE] SPEC")
		return 2
	}
	specs, err := readSpecs(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "paired: %v\n", err)
		return 1
	}
	var results []result
	for _, s := range specs {
		r, err := measure(s, *warmup, *pairs)
		if err != nil {
			fmt.Fprintf(stderr, "paired: %s: %v\n", s.name, err)
			return 1
		}
		fmt.Fprintf(stdout, "%-45s vs %-35s paired ratio %.2f (median %.3fs vs %.3fs)\n",
			r.Name, r.Reference, r.MedianRatio, r.Median, r.RefMedian)
		results = append(results, r)
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(results, "", "  ")
		if err == nil {
			err = os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "paired: writing %s: %v\n", *jsonOut, err)
			return 1
		}
	}
	return 0
}

func readSpecs(path string) ([]spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening spec: %w", err)
	}
	defer f.Close()
	return parseSpecs(f)
}

// parseSpecs reads tab-separated spec lines; blank lines and lines starting
// with # are skipped.
func parseSpecs(r io.Reader) ([]spec, error) {
	var specs []spec
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("spec line %d: %d tab-separated fields; want 4 (name, command, reference name, reference command)", n, len(f))
		}
		specs = append(specs, spec{name: f[0], command: f[1], refName: f[2], refCommand: f[3]})
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	return specs, nil
}

func measure(s spec, warmup, pairs int) (result, error) {
	a, err := splitWords(s.command)
	if err != nil {
		return result{}, fmt.Errorf("splitting %q: %w", s.command, err)
	}
	b, err := splitWords(s.refCommand)
	if err != nil {
		return result{}, fmt.Errorf("splitting %q: %w", s.refCommand, err)
	}
	if len(a) == 0 || len(b) == 0 {
		return result{}, fmt.Errorf("empty command")
	}
	r := result{Name: s.name, Command: s.command, Reference: s.refName, RefCommand: s.refCommand, Pairs: pairs}
	for i := range warmup + pairs {
		ta, cpu, err := timeOnce(a)
		if err != nil {
			return r, err
		}
		tb, _, err := timeOnce(b)
		if err != nil {
			return r, err
		}
		if i < warmup {
			continue
		}
		r.Times = append(r.Times, ta)
		r.RefTimes = append(r.RefTimes, tb)
		r.CPU = append(r.CPU, cpu)
		r.Ratios = append(r.Ratios, ta/tb)
	}
	r.MedianRatio = median(r.Ratios)
	r.Median = median(r.Times)
	r.RefMedian = median(r.RefTimes)
	r.MedianCPU = median(r.CPU)
	return r, nil
}

// timeOnce runs argv once with its output thrown away and returns its wall
// and user+sys time in seconds.
func timeOnce(argv []string) (wall, cpu float64, err error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start).Seconds()
	if err != nil {
		return 0, 0, fmt.Errorf("running %q: %w", strings.Join(argv, " "), err)
	}
	ps := cmd.ProcessState
	return wall, (ps.UserTime() + ps.SystemTime()).Seconds(), nil
}

// median returns the median of v (the mean of the middle two for an even
// count), or 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
