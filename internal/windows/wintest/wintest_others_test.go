//go:build !windows

package wintest

import "testing"

func TestHelpersSkip(t *testing.T) {
	for name, helper := range map[string]func(t *testing.T){
		"InstallService": func(t *testing.T) { InstallService(t, "WhobindsTestSvc", "127.0.0.1:1") },
		"RegisterURL":    func(t *testing.T) { RegisterURL(t, "http://127.0.0.1:1/x/") },
	} {
		var sub *testing.T
		reached := false
		t.Run(name, func(t *testing.T) {
			sub = t
			helper(t)
			reached = true
		})
		if reached || !sub.Skipped() {
			t.Errorf("%s on a non-Windows system: returned = %v, skipped = %v; want a skip", name, reached, sub.Skipped())
		}
	}
}
