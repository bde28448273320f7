package portrange

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/model"
)

func TestContains(t *testing.T) {
	r := tcp4(49671, 49770, false)
	one := tcp4(5357, 5357, false)
	top := tcp4(65000, 65535, false)
	tests := []struct {
		r    Range
		port int
		want bool
	}{
		{r, 49671, true},
		{r, 49700, true},
		{r, 49770, true},
		{r, 49670, false},
		{r, 49771, false},
		{r, 0, false},
		{r, -49671, false},
		{r, 49671 + 65536, false},
		{one, 5357, true},
		{one, 5356, false},
		{one, 5358, false},
		{top, 65535, true},
		{top, 65536, false},
	}
	for _, tt := range tests {
		if got := tt.r.Contains(tt.port); got != tt.want {
			t.Errorf("%v.Contains(%d) = %v; want %v", tt.r, tt.port, got, tt.want)
		}
	}
}

func TestFind(t *testing.T) {
	ranges := []Range{
		tcp4(5357, 5357, false),
		tcp4(49671, 49770, false),
		tcp4(50000, 50059, true),
		tcp4(50050, 50100, false), // overlaps the one before: the first wins
	}
	tests := []struct {
		port   int
		want   Range
		wantOK bool
	}{
		{5357, ranges[0], true},
		{49671, ranges[1], true},
		{49770, ranges[1], true},
		{49771, Range{}, false},
		{50059, ranges[2], true},
		{50055, ranges[2], true},
		{50060, ranges[3], true},
		{50100, ranges[3], true},
		{50101, Range{}, false},
		{80, Range{}, false},
	}
	for _, tt := range tests {
		got, ok := Find(ranges, tt.port)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Find(ranges, %d) = %v, %v; want %v, %v", tt.port, got, ok, tt.want, tt.wantOK)
		}
	}
	if got, ok := Find(nil, 80); ok {
		t.Errorf("Find(nil, 80) = %v, true; want false", got)
	}
}

func TestLikelyOwner(t *testing.T) {
	tests := []struct {
		name    string
		r       Range
		want    []string
		notWant []string
	}{
		{"run-time", tcp4(49671, 49770, false),
			[]string{"Host Network Service", "WinNAT", "Docker Desktop", "WSL 2", "Windows Sandbox", "dynamic port range"},
			[]string{"persistent exclusion", "administrator"}},
		{"administered", tcp4(50000, 50000, true),
			[]string{"persistent exclusion", "netsh int ipv4 add excludedportrange", "CreatePersistentTcpPortReservation", "50000-50059"},
			[]string{"WinNAT", "this exact range"}},
		{"administered udp ipv6", Range{Proto: model.UDP, Family: 6, First: 3000, Last: 3010, Administered: true},
			[]string{"netsh int ipv6 add excludedportrange", "CreatePersistentUdpPortReservation"},
			[]string{"this exact range"}},
		{"hns docker", tcp4(50000, 50059, true),
			[]string{"persistent exclusion", "this exact range", "Host Network Service", "Docker"},
			[]string{"WinNAT", "administrator"}},
		{"hns range not administered", tcp4(50000, 50059, false),
			[]string{"run-time reservation"},
			[]string{"this exact range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LikelyOwner(tt.r)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("LikelyOwner(%v) = %q; want it to mention %q", tt.r, got, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("LikelyOwner(%v) = %q; want no %q", tt.r, got, w)
				}
			}
		})
	}
}

func TestFixes(t *testing.T) {
	tests := []struct {
		name string
		r    Range
		port int
		// want holds one substring per fix, in order; the number of
		// fixes must match.
		want []string
	}{
		{"run-time, low port", tcp4(1031, 1130, false), 1080, []string{
			"net stop winnat && net start winnat",
			"netsh int ipv4 set dynamicport tcp start=49152 num=16384 && net stop winnat && net start winnat",
			"net stop winnat && netsh int ipv4 add excludedportrange protocol=tcp startport=1080 numberofports=1 store=persistent && net start winnat",
			"netsh int ipv4 show excludedportrange protocol=tcp",
		}},
		{"run-time, high port: moving the dynamic range would not help", tcp4(49671, 49770, false), 49700, []string{
			"net stop winnat && net start winnat",
			"netsh int ipv4 add excludedportrange protocol=tcp startport=49700 numberofports=1 store=persistent",
			"netsh int ipv4 show excludedportrange protocol=tcp",
		}},
		{"run-time udp ipv6", Range{Proto: model.UDP, Family: 6, First: 5000, Last: 5099}, 5001, []string{
			"net stop winnat && net start winnat",
			"netsh int ipv6 set dynamicport udp start=49152 num=16384",
			"netsh int ipv6 add excludedportrange protocol=udp startport=5001 numberofports=1",
			"netsh int ipv6 show excludedportrange protocol=udp",
		}},
		{"administered", tcp4(50000, 50000, true), 50000, []string{
			"Bind to port 50000 explicitly",
			"netsh int ipv4 delete excludedportrange protocol=tcp startport=50000 numberofports=1",
			"netsh int ipv4 show excludedportrange protocol=tcp",
		}},
		{"hns docker", tcp4(50000, 50059, true), 50010, []string{
			"Bind to port 50010 explicitly",
			`reg add HKLM\SYSTEM\CurrentControlSet\Services\hns\State /v EnableExcludedPortRange /t REG_DWORD /d 0 /f && netsh int ipv4 delete excludedportrange protocol=tcp startport=50000 numberofports=60`,
			"netsh int ipv4 show excludedportrange protocol=tcp",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Fixes(tt.r, tt.port)
			if len(got) != len(tt.want) {
				t.Fatalf("Fixes(%v, %d) = %d fixes %q; want %d", tt.r, tt.port, len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("Fixes(%v, %d)[%d] = %q; want it to contain %q", tt.r, tt.port, i, got[i], w)
				}
			}
		})
	}
}

// fakeNetsh records how it was run and answers with out or err.
type fakeNetsh struct {
	out         string
	err         error
	args        []string
	hadDeadline bool
	deadline    time.Time
	calls       int
}

func (f *fakeNetsh) run(ctx context.Context, args []string) ([]byte, error) {
	f.calls++
	f.args = args
	f.deadline, f.hadDeadline = ctx.Deadline()
	return []byte(f.out), f.err
}

func TestExcludedPlumbing(t *testing.T) {
	tests := []struct {
		name     string
		proto    model.Proto
		family   int
		out      string
		wantArgs []string
		want     []Range
		wantErr  error
	}{
		{"tcp4", model.TCP, 4, fixture(t, "excluded-en-tcp-hyperv-low.txt"),
			[]string{"interface", "ipv4", "show", "excludedportrange", "protocol=tcp"},
			[]Range{tcp4(1031, 1130, false), tcp4(1131, 1230, false), tcp4(2363, 2462, false),
				tcp4(5357, 5357, false), tcp4(50000, 50099, true), tcp4(55500, 55599, false)}, nil},
		{"udp6 empty", model.UDP, 6, utf16LE(crlf(fixture(t, "excluded-en-udp-empty.txt")), true),
			[]string{"interface", "ipv6", "show", "excludedportrange", "protocol=udp"}, nil, nil},
		{"wine prints nothing", model.TCP, 4, "",
			[]string{"interface", "ipv4", "show", "excludedportrange", "protocol=tcp"}, nil, ErrNoOutput},
		{"netsh error", model.TCP, 6, fixture(t, "error-en.txt"),
			[]string{"interface", "ipv6", "show", "excludedportrange", "protocol=tcp"}, nil, ErrUnknownLayout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeNetsh{out: tt.out}
			got, err := excluded(context.Background(), f.run, tt.proto, tt.family)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("excluded(%v, %d) = %v; want error %v", tt.proto, tt.family, err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), strings.Join(tt.wantArgs, " ")) {
				t.Errorf("excluded(%v, %d) = %q; want the error to name the command", tt.proto, tt.family, err)
			}
			if diff := cmp.Diff(tt.wantArgs, f.args); diff != "" {
				t.Errorf("excluded(%v, %d) ran netsh with (-want +got):\n%s", tt.proto, tt.family, diff)
			}
			if !f.hadDeadline {
				t.Errorf("excluded(%v, %d) ran netsh without a deadline", tt.proto, tt.family)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("excluded(%v, %d) mismatch (-want +got):\n%s", tt.proto, tt.family, diff)
			}
		})
	}
}

func TestDynamicPlumbing(t *testing.T) {
	f := &fakeNetsh{out: crlf(fixture(t, "dynamic-en-tcp-1024.txt"))}
	got, err := dynamic(context.Background(), f.run, model.UDP, 6)
	if err != nil {
		t.Fatalf("dynamic(udp, 6) = %v", err)
	}
	want := Range{Proto: model.UDP, Family: 6, First: 1024, Last: 65534}
	if got != want {
		t.Errorf("dynamic(udp, 6) = %v; want %v", got, want)
	}
	if diff := cmp.Diff([]string{"interface", "ipv6", "show", "dynamicport", "udp"}, f.args); diff != "" {
		t.Errorf("dynamic(udp, 6) ran netsh with (-want +got):\n%s", diff)
	}

	f = &fakeNetsh{}
	if _, err := dynamic(context.Background(), f.run, model.TCP, 4); !errors.Is(err, ErrNoOutput) {
		t.Errorf("dynamic(tcp, 4) with no output = %v; want ErrNoOutput", err)
	}
}

func TestRunnerErrorsPassThrough(t *testing.T) {
	boom := errors.New("netsh.exe: access denied")
	f := &fakeNetsh{out: fixture(t, "excluded-en-tcp.txt"), err: boom}
	if _, err := excluded(context.Background(), f.run, model.TCP, 4); !errors.Is(err, boom) {
		t.Errorf("excluded with a failing netsh = %v; want %v", err, boom)
	}
	if _, err := dynamic(context.Background(), f.run, model.TCP, 4); !errors.Is(err, boom) {
		t.Errorf("dynamic with a failing netsh = %v; want %v", err, boom)
	}
}

func TestDeadline(t *testing.T) {
	// The caller's deadline is kept, not replaced by the default.
	mine := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), mine)
	defer cancel()
	f := &fakeNetsh{out: fixture(t, "dynamic-en-tcp.txt")}
	if _, err := dynamic(ctx, f.run, model.TCP, 4); err != nil {
		t.Fatal(err)
	}
	if !f.deadline.Equal(mine) {
		t.Errorf("netsh ran with deadline %v; want the caller's %v", f.deadline, mine)
	}

	// Without one, the default applies: DefaultTimeout after some instant
	// during the call.
	before := time.Now()
	f = &fakeNetsh{out: fixture(t, "dynamic-en-tcp.txt")}
	if _, err := dynamic(context.Background(), f.run, model.TCP, 4); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if !f.hadDeadline || f.deadline.Before(before.Add(DefaultTimeout)) || f.deadline.After(after.Add(DefaultTimeout)) {
		t.Errorf("netsh ran with deadline %v (set: %v); want %v after the call", f.deadline, f.hadDeadline, DefaultTimeout)
	}
}

func TestBadArgsDoNotRunNetsh(t *testing.T) {
	f := &fakeNetsh{out: fixture(t, "excluded-en-tcp.txt")}
	if _, err := excluded(context.Background(), f.run, model.Proto(1), 4); err == nil {
		t.Error("excluded(proto 1, 4) = nil error; want one")
	}
	if _, err := dynamic(context.Background(), f.run, model.TCP, 5); err == nil {
		t.Error("dynamic(tcp, 5) = nil error; want one")
	}
	if f.calls != 0 {
		t.Errorf("netsh ran %d times for bad arguments; want 0", f.calls)
	}
}
