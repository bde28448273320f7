package httpsys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readNetsh(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "netsh", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantRequestq is what en-requestq.txt and de-requestq.txt hold.
var wantRequestq = []Queue{
	{
		State:     "active",
		Processes: []Process{{PID: 3104, Image: `C:\Windows\System32\svchost.exe`, Service: "WinRM"}},
		URLs:      []string{"HTTP://+:5985/WSMAN/", "HTTP://+:47001/WSMAN/"},
	},
	{
		Name:          "DefaultAppPool",
		State:         "active",
		Processes:     []Process{{PID: 5120, Image: `C:\Windows\System32\inetsrv\w3wp.exe`}, {PID: 5344}},
		ControllerPID: 2288,
		URLs:          []string{"HTTP://*:80/", "HTTPS://*:443/", "HTTP://127.0.0.1:8080:127.0.0.1/APP/"},
	},
	{
		Name:          "MSExchangeOWAAppPool",
		State:         "inactive",
		ControllerPID: 2288,
		URLs:          []string{"HTTPS://+:444/OWA/"},
	},
}

func TestParseNetsh(t *testing.T) {
	en := readNetsh(t, "en-requestq.txt")
	tests := []struct {
		name string
		out  string
		want []Queue
	}{
		{"English", en, wantRequestq},
		{"German", readNetsh(t, "de-requestq.txt"), wantRequestq},
		{"CRLF and BOM", "\ufeff" + strings.ReplaceAll(en, "\n", "\r\n"), wantRequestq},
		{"tabs", strings.ReplaceAll(en, "    ", "\t"), wantRequestq},
		{"labels replaced", relabel(en), wantRequestq},
		{"Process IDs lists and a server session", readNetsh(t, "en-process-ids.txt"), []Queue{
			{State: "active", Processes: []Process{{PID: 1876}}, URLs: []string{"HTTP://+:80/TEMPORARY_LISTEN_ADDRESSES/"}},
			{State: "active", Processes: []Process{{PID: 2668}, {PID: 2672}}, URLs: []string{"HTTP://LOCALHOST:8080/"}},
		}},
		{"no queues", readNetsh(t, "en-empty.txt"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseNetsh(tc.out)
			if err != nil {
				t.Fatalf("ParseNetsh(%s) = %v; want no error", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseNetsh(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

func TestParseNetshErrors(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want error
	}{
		{"empty (Wine's stub)", "", ErrNoOutput},
		{"blank lines", "\r\n\r\n  \n", ErrNoOutput},
		{"command not found", readNetsh(t, "en-command-not-found.txt"), ErrUnknownLayout},
		{"server session view", readNetsh(t, "en-session-view.txt"), ErrUnknownLayout},
		{"process count disagrees", readNetsh(t, "en-count-mismatch.txt"), ErrUnknownLayout},
		{"URL count disagrees", readNetsh(t, "en-url-count-mismatch.txt"), ErrUnknownLayout},
		{"a title without a rule", "Snapshot of HTTP service state (Request Queue View):\n", ErrUnknownLayout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseNetsh(tc.out)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseNetsh(%s) = %+v, %v; want an error wrapping %v", tc.name, got, err, tc.want)
			}
		})
	}
}

// relabel replaces every label ("Request queue name:", "State:") by a
// meaningless one, keeping indentation and values: the parser must not
// notice.
func relabel(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		body := strings.TrimLeft(l, " \t")
		indent := l[:len(l)-len(body)]
		t := strings.TrimRight(body, " \t\r") // what the parser classifies
		if _, v, ok := strings.Cut(t, ": "); ok {
			lines[i] = indent + "Xq: " + v + body[len(t):]
		} else if isSection(t) {
			lines[i] = indent + "Xq:" + body[len(t):]
		}
	}
	return strings.Join(lines, "\n")
}

func FuzzParseNetsh(f *testing.F) {
	for _, name := range []string{"en-requestq.txt", "de-requestq.txt", "en-process-ids.txt", "en-empty.txt", "en-count-mismatch.txt", "en-url-count-mismatch.txt"} {
		f.Add(readNetsh(f, name))
	}
	f.Fuzz(func(t *testing.T, out string) {
		qs, err := ParseNetsh(out)
		if err != nil {
			if !errors.Is(err, ErrUnknownLayout) && !errors.Is(err, ErrNoOutput) {
				t.Fatalf("ParseNetsh() = %v; want nil, ErrUnknownLayout or ErrNoOutput", err)
			}
		}
		for _, q := range qs {
			for _, u := range q.URLs {
				if !looksLikeURL(u) {
					t.Fatalf("ParseNetsh() returned URL %q", u)
				}
			}
			for _, p := range q.Processes {
				if p.PID < 0 || p.Tag != 0 {
					t.Fatalf("ParseNetsh() returned process %+v", p)
				}
			}
		}
		// The answer depends on the structure, not on the labels.
		qs2, err2 := ParseNetsh(relabel(out))
		if (err == nil) != (err2 == nil) || err != nil && errors.Is(err, ErrNoOutput) != errors.Is(err2, ErrNoOutput) {
			t.Fatalf("ParseNetsh() = %v, after relabelling %v", err, err2)
		}
		if diff := cmp.Diff(qs, qs2); diff != "" {
			t.Fatalf("relabelling changed the answer (-before +after):\n%s", diff)
		}
	})
}

// TestParseNetshServices: a process's service comes from its "Tagged
// Service" line, or from a "Services" line that names exactly one.
func TestParseNetshServices(t *testing.T) {
	const head = "Request queue name: Request queue is unnamed.\n    Version: 2.0\n    State: Active\n    Number of active processes attached: 1\n    Processes:\n        ID: 900, image: C:\\Windows\\System32\\svchost.exe\n"
	const tail = "    Registered URLs:\n        HTTP://+:2869/\n"
	tests := []struct {
		name, lines, want string
	}{
		{"tagged", "        Services: SSDPSRV, upnphost\n        Tagged Service: upnphost\n", "upnphost"},
		{"one service", "        Services: upnphost\n", "upnphost"},
		{"several, no tag", "        Services: SSDPSRV, upnphost\n", ""},
		{"none", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs, err := ParseNetsh(head + tt.lines + tail)
			if err != nil || len(qs) != 1 || len(qs[0].Processes) != 1 {
				t.Fatalf("ParseNetsh = %+v, %v; want one queue with one process", qs, err)
			}
			if got := qs[0].Processes[0].Service; got != tt.want {
				t.Errorf("Service = %q; want %q", got, tt.want)
			}
		})
	}
}
