package procfs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Stat
	}{
		{
			name: "nginx",
			in:   "1201 (nginx) S 1 1201 1201 0 -1 4194624 1032 0 0 0 1 3 0 0 20 0 1 0 4242 11264000 400 18446744073709551615 1 1 0 0 0 0 0 4096 134234626 0 0 0 17 1 0 0 0 0 0\n",
			want: Stat{PID: 1201, Comm: "nginx", State: 'S', PPID: 1, Flags: 4194624, StartTicks: 4242},
		},
		{
			name: "comm with spaces and parens",
			in:   "77 (a) b (c)) R 2 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0 0",
			want: Stat{PID: 77, Comm: "a) b (c)", State: 'R', PPID: 2, Flags: 2129984, StartTicks: 99},
		},
		{
			name: "kernel thread",
			in:   "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0",
			want: Stat{PID: 2, Comm: "kthreadd", State: 'S', PPID: 0, Flags: 2129984, StartTicks: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseStat(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseStat(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	if !(Stat{Flags: 2129984}).KernelThread() || (Stat{Flags: 4194624}).KernelThread() {
		t.Error("KernelThread misreads PF_KTHREAD")
	}
}

func TestParseStatErrors(t *testing.T) {
	for _, in := range []string{"", "1 nginx S 1", "x (a) S 1", "1 (a) S 1 2 3", "1 (a) SS 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", "1 (a) S x 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
		// Found by FuzzParseStat: a PID of 0 behind a leading space.
		" 0()0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
		"0 (a) S 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
		"+7 (a) S 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
		"7(a) S 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
	} {
		if _, err := ParseStat([]byte(in)); err == nil {
			t.Errorf("ParseStat(%q) = nil error; want an error", in)
		}
	}
}

func TestParseStatus(t *testing.T) {
	in := "Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t1202\nNgid:\t0\nPid:\t1202\nPPid:\t1201\nUid:\t33\t33\t33\t33\nGid:\t33\t33\t33\t33\nNSpid:\t1202\t7\n"
	got, err := ParseStatus([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Status{UID: 33, NSPID: []int{1202, 7}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseStatus mismatch (-want +got):\n%s", diff)
	}
	// Effective UID is the second field.
	got, err = ParseStatus([]byte("Uid:\t1000\t0\t0\t0\n"))
	if err != nil || got.UID != 0 {
		t.Errorf("ParseStatus(setuid) = %+v, %v; want UID 0", got, err)
	}
	for _, bad := range []string{"", "Name:\tx\n", "Uid:\t\n", "Uid:\t1 x\n", "Uid:\t1 1\nNSpid:\tz\n"} {
		if _, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("ParseStatus(%q) = nil error; want an error", bad)
		}
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", nil},
		{"/usr/sbin/nginx\x00-g\x00daemon off;\x00", []string{"/usr/sbin/nginx", "-g", "daemon off;"}},
		{"nginx: master process /usr/sbin/nginx", []string{"nginx: master process /usr/sbin/nginx"}},
		{"a\x00\x00b\x00", []string{"a", "", "b"}},
	}
	for _, tt := range tests {
		if got := ParseCmdline([]byte(tt.in)); !cmp.Equal(got, tt.want) {
			t.Errorf("ParseCmdline(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseSocketLink(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[0]", 0, true},
		{"socket:[18446744073709551615]", 0, false}, // overflow guard is conservative
		{"socket:[1844674407370955161]", 1844674407370955161, true},
		{"socket:[]", 0, false},
		{"socket:[12a]", 0, false},
		{"socket:[12", 0, false},
		{"pipe:[12]", 0, false},
		{"/dev/null", 0, false},
		{"anon_inode:[eventpoll]", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseSocketLink([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseSocketLink(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseNSLink(t *testing.T) {
	if got, ok := ParseNSLink([]byte("net:[4026531840]"), "net"); !ok || got != 4026531840 {
		t.Errorf(`ParseNSLink("net:[4026531840]") = %d, %v; want 4026531840, true`, got, ok)
	}
	for _, in := range []string{"pid:[1]", "net:[x]", "net:[1", "net:1]"} {
		if _, ok := ParseNSLink([]byte(in), "net"); ok {
			t.Errorf("ParseNSLink(%q, net) ok; want not ok", in)
		}
	}
}

func TestParseBootTime(t *testing.T) {
	got, err := ParseBootTime([]byte("cpu  1 2 3\nintr 5\nbtime 1763856180\nprocesses 9\n"))
	if err != nil || got != 1763856180 {
		t.Errorf("ParseBootTime = %d, %v; want 1763856180", got, err)
	}
	if _, err := ParseBootTime([]byte("cpu 1\n")); err == nil {
		t.Error("ParseBootTime without btime = nil error")
	}
}

func TestParsePasswd(t *testing.T) {
	in := "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\nbad:x:notanumber:1::/:\ndup:x:33:33::/:\n"
	got, err := ParsePasswd(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{0: "root", 33: "www-data"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParsePasswd mismatch (-want +got):\n%s", diff)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1201 (nginx) S 1 1201 1201 0 -1 4194624 1032 0 0 0 1 3 0 0 20 0 1 0 4242 11264000 400"))
	f.Add([]byte("1 ()) R 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStat(b)
		if err == nil && (s.PID <= 0 || b[0] < '1' || b[0] > '9') {
			t.Fatalf("ParseStat(%q) = %+v without error", b, s)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Uid:\t1\t2\t3\t4\nNSpid:\t5\t6\n"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseStatus(b) })
}

func FuzzParseSocketLink(f *testing.F) {
	f.Add([]byte("socket:[1]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ino, ok := ParseSocketLink(b)
		if ok && string(b) != "socket:["+uitoa(ino)+"]" && !strings.HasPrefix(string(b), "socket:[0") {
			t.Fatalf("ParseSocketLink(%q) = %d: does not round-trip", b, ino)
		}
	})
}

func uitoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
