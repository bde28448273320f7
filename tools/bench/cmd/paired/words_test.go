package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"ss -tlnp", []string{"ss", "-tlnp"}},
		{"  ss   -tlnp  ", []string{"ss", "-tlnp"}},
		{"ss -tlnp 'sport = :20250'", []string{"ss", "-tlnp", "sport = :20250"}},
		{`echo "a b" c\ d`, []string{"echo", "a b", "c d"}},
		{`echo "x\"y\z"`, []string{"echo", `x"y\z`}},
		{`echo '' ""`, []string{"echo", "", ""}},
		{`a'b'"c"`, []string{"abc"}},
	}
	for _, tt := range tests {
		got, err := splitWords(tt.in)
		if err != nil {
			t.Errorf("splitWords(%q) = %v; want no error", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitWords(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{`'open`, `"open`, `trailing\`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("splitWords(%q) = nil error; want an error", bad)
		}
	}
}
