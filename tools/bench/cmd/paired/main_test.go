package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseSpecs(t *testing.T) {
	in := "# comment\n\nwhobinds -t PORT\t/tmp/w -t 1\tss PORT\tss -tlnp 'sport = :1'\n"
	got, err := parseSpecs(strings.NewReader(in))
	if err != nil {
		t.Fatalf("parseSpecs() = %v; want no error", err)
	}
	want := []spec{{name: "whobinds -t PORT", command: "/tmp/w -t 1", refName: "ss PORT", refCommand: "ss -tlnp 'sport = :1'"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(spec{})); diff != "" {
		t.Errorf("parseSpecs() mismatch (-want +got):\n%s", diff)
	}
	if _, err := parseSpecs(strings.NewReader("a\tb\tc\n")); err == nil {
		t.Errorf("parseSpecs(3 fields) = nil error; want an error")
	}
}

// TestMeasure runs real processes. It asserts no speed, only what must hold:
// sleep 0.05 takes at least 50ms, each ratio is its pair's quotient, and a
// failing command is reported.
func TestMeasure(t *testing.T) {
	r, err := measure(spec{name: "true", command: "true", refName: "sleep", refCommand: "sleep 0.05"}, 0, 3)
	if err != nil {
		t.Fatalf("measure(true vs sleep) = %v; want no error", err)
	}
	if len(r.Ratios) != 3 {
		t.Fatalf("len(Ratios) = %d; want 3", len(r.Ratios))
	}
	for i, ref := range r.RefTimes {
		if ref < 0.05 {
			t.Errorf("RefTimes[%d] = %v; want >= 0.05 (sleep 0.05)", i, ref)
		}
		if want := r.Times[i] / ref; r.Ratios[i] != want {
			t.Errorf("Ratios[%d] = %v; want %v", i, r.Ratios[i], want)
		}
	}
	if r.MedianRatio != median(r.Ratios) {
		t.Errorf("MedianRatio = %v; want median(Ratios) = %v", r.MedianRatio, median(r.Ratios))
	}
	if _, err := measure(spec{name: "false", command: "false", refName: "true", refCommand: "true"}, 0, 1); err == nil {
		t.Errorf("measure(false) = nil error; want an error")
	}
}
