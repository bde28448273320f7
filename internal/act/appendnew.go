package act

import "slices"

// appendNew appends v to s unless s already holds it: plans and reports
// list each note, warning, fix, refusal and supervisor once.
func appendNew[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
