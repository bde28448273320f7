package main

// This file builds the table from decoded inputs; it does no I/O of its own
// beyond the writer it is given.

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// hyperfineJSON is the part of hyperfine's --export-json output we use
// (hyperfine 1.15: times in seconds, user and system are means).
type hyperfineJSON struct {
	Results []struct {
		Command string    `json:"command"`
		Median  float64   `json:"median"`
		Min     float64   `json:"min"`
		Max     float64   `json:"max"`
		User    float64   `json:"user"`
		System  float64   `json:"system"`
		Times   []float64 `json:"times"`
	} `json:"results"`
}

// pairedJSON is one entry of the paired command's -json output.
type pairedJSON struct {
	Name        string  `json:"name"`
	Reference   string  `json:"reference"`
	Pairs       int     `json:"pairs"`
	MedianRatio float64 `json:"median_ratio"`
}

// extra is one command's single extra run.
type extra struct {
	rssKiB int
	lines  string
	owner  string
}

type inputs struct {
	hyperfine hyperfineJSON
	paired    []pairedJSON
	extras    map[string]extra
}

// parseExtras reads lines "name<TAB>rss KiB<TAB>lines<TAB>owner found".
func parseExtras(r io.Reader) (map[string]extra, error) {
	m := map[string]extra{}
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		if strings.TrimSpace(s.Text()) == "" {
			continue
		}
		f := strings.Split(s.Text(), "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: %d fields; want 4", n, len(f))
		}
		rss, err := strconv.Atoi(f[1])
		if err != nil {
			rss = -1 // not measured
		}
		m[f[0]] = extra{rssKiB: rss, lines: f[2], owner: f[3]}
	}
	return m, s.Err()
}

// writeTable prints one Markdown row per hyperfine result, in its order.
func writeTable(w io.Writer, in inputs, ref string) error {
	refMedian := 0.0
	for _, r := range in.hyperfine.Results {
		if r.Command == ref {
			refMedian = r.Median
		}
	}
	paired := map[string]pairedJSON{}
	for _, p := range in.paired {
		paired[p.Name] = p
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| command | median wall s | min-max s | mean cpu s | peak RSS MiB | vs `%s` (medians) | paired ratio | paired against | lines | owner found |\n", ref)
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|---:|:-:|\n")
	for _, r := range in.hyperfine.Results {
		vs := "-"
		if refMedian > 0 {
			vs = fmt.Sprintf("%.2f", r.Median/refMedian)
		}
		pr, against := "-", "-"
		if p, ok := paired[r.Command]; ok {
			pr = fmt.Sprintf("%.2f", p.MedianRatio)
			against = fmt.Sprintf("`%s` (%d pairs)", p.Reference, p.Pairs)
		} else if r.Command == ref {
			pr = "1.00"
		}
		rss, lines, owner := "-", "-", "-"
		if e, ok := in.extras[r.Command]; ok {
			if e.rssKiB >= 0 {
				rss = fmt.Sprintf("%.1f", float64(e.rssKiB)/1024)
			}
			lines, owner = e.lines, e.owner
		}
		name := "`" + r.Command + "`"
		if r.Command == ref {
			name = "**" + name + "** (reference)"
		}
		fmt.Fprintf(&b, "| %s | %.3f | %.3f-%.3f | %.3f | %s | %s | %s | %s | %s | %s |\n",
			name, r.Median, r.Min, r.Max, r.User+r.System, rss, vs, pr, against, lines, owner)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
