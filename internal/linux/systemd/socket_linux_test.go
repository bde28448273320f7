package systemd

// The reference for the unit-file rules is systemd itself: "systemd --test"
// loads units from SYSTEMD_UNIT_PATH with systemd's own parser and dumps
// them, without being PID 1. This test loads the fixture trees both ways
// and compares what each says about every socket unit.

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/testutil"
)

// unitSummary is what both systemd's dump and LoadSocketUnits say about a
// socket unit, in systemd's words.
type unitSummary struct {
	Fragment     string
	DropIns      []string
	Listens      []string // "ListenStream: [::]:22", IP ones only
	BindIPv6Only string
	FreeBind     bool
	Accept       bool
	Service      string // from "Triggers:", for Accept=no
	BindToDevice string
}

func TestLoadSocketUnitsAgainstSystemd(t *testing.T) {
	var systemd string
	for _, p := range []string{"/lib/systemd/systemd", "/usr/lib/systemd/systemd"} {
		if _, err := os.Stat(p); err == nil {
			systemd = p
			break
		}
	}
	if systemd == "" {
		testutil.Missing(t, "systemd is not installed (/lib/systemd/systemd)")
	}
	// systemd refuses test mode as root.
	var prefix []string
	if os.Geteuid() == 0 {
		prefix = []string{testutil.NeedCommand(t, "setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups"}
	}
	_, err := os.Stat("/proc/net/if_inet6")
	haveIPv6 := err == nil

	for _, fixture := range []string{"host", "dropins"} {
		t.Run(fixture, func(t *testing.T) {
			root := copyTree(t, filepath.Join("testdata", fixture))
			var names []string
			for _, d := range fixtureDirs {
				ents, _ := os.ReadDir(filepath.Join(root, d))
				for _, e := range ents {
					if strings.HasSuffix(e.Name(), ".socket") && !isTemplate(e.Name()) && !slices.Contains(names, e.Name()) {
						names = append(names, e.Name())
					}
				}
			}
			target := filepath.Join(root, "etc/systemd/system/whobinds-all.target")
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, []byte("[Unit]\nWants="+strings.Join(names, " ")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var path []string
			for _, d := range fixtureDirs {
				path = append(path, filepath.Join(root, d))
			}
			args := append(prefix, systemd, "--test", "--system", "--unit=whobinds-all.target", "--log-target=console")
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+strings.Join(path, ":"))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", strings.Join(args, " "), err)
			}
			want := parseSystemdDump(t, string(out))
			if len(want) == 0 {
				t.Fatalf("systemd --test dumped no socket units:\n%s", out)
			}

			// The copy's symlinks point into the copy, so read it as
			// systemd does: from "/", with the copy's directories.
			units, err := LoadSocketUnits("/", path)
			if err != nil {
				t.Fatalf("LoadSocketUnits error: %v", err)
			}
			got := map[string]unitSummary{}
			for _, u := range units {
				s := unitSummary{Fragment: u.Path, DropIns: u.DropIns, FreeBind: u.FreeBind, Accept: u.Accept, BindToDevice: u.BindToDevice, BindIPv6Only: "default"}
				if !u.Accept {
					s.Service = u.Service
				}
				for _, l := range u.Listens {
					s.BindIPv6Only = l.BindIPv6Only
					s.Listens = append(s.Listens, systemdListen(l, haveIPv6))
				}
				got[u.Name] = s
			}
			// A unit with no listener of any kind never has its
			// BindIPv6Only shown through a Listen; take systemd's.
			for name, s := range got {
				if len(s.Listens) == 0 {
					s.BindIPv6Only = want[name].BindIPv6Only
					got[name] = s
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("LoadSocketUnits(%s) disagrees with systemd --test (-systemd +ours):\n%s", fixture, diff)
			}
		})
	}
}

// systemdListen prints a Listen as systemd's socket dump does.
func systemdListen(l Listen, haveIPv6 bool) string {
	kind := "ListenStream"
	if l.Proto == model.UDP {
		kind = "ListenDatagram"
	}
	var addr string
	switch {
	case !l.Addr.IsValid() && haveIPv6:
		addr = "[::]"
	case !l.Addr.IsValid():
		addr = "0.0.0.0"
	case l.Addr.Is4():
		addr = l.Addr.String()
	default:
		addr = "[" + l.Addr.String() + "]"
	}
	return kind + ": " + addr + ":" + strconv.Itoa(int(l.Port))
}

// parseSystemdDump reads the loaded socket units of a "systemd --test"
// dump ("-> Unit NAME:" followed by tab-indented "Key: value" lines).
func parseSystemdDump(t *testing.T, dump string) map[string]unitSummary {
	t.Helper()
	units := map[string]unitSummary{}
	var name string
	var cur unitSummary
	loaded := false
	flush := func() {
		if name != "" && loaded {
			units[name] = cur
		}
		name, cur, loaded = "", unitSummary{}, false
	}
	sc := bufio.NewScanner(strings.NewReader(dump))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if u, ok := strings.CutPrefix(line, "-> Unit "); ok {
			flush()
			if n, ok := strings.CutSuffix(u, ".socket:"); ok {
				name = n + ".socket"
			}
			continue
		}
		if name == "" {
			continue
		}
		key, val, _ := strings.Cut(line, ": ")
		switch key {
		case "Unit Load State":
			loaded = val == "loaded"
		case "Fragment Path":
			cur.Fragment = val
		case "DropIn Path":
			cur.DropIns = append(cur.DropIns, val)
		case "BindIPv6Only":
			cur.BindIPv6Only = val
		case "FreeBind":
			cur.FreeBind = val == "yes"
		case "Accepted":
			cur.Accept = true
		case "BindToDevice":
			cur.BindToDevice = val
		case "Triggers":
			cur.Service, _, _ = strings.Cut(val, " ")
		case "ListenStream", "ListenDatagram":
			if val != "" && (val[0] == '[' || '0' <= val[0] && val[0] <= '9') {
				if i := strings.IndexByte(val, '%'); i >= 0 {
					val = val[:i] // the interface, which Listen does not keep
				}
				cur.Listens = append(cur.Listens, key+": "+val)
			}
		}
	}
	flush()
	return units
}

// copyTree copies a fixture tree into a temporary directory that systemd,
// running as nobody, can read, pointing absolute symlinks (other than
// /dev/null) into the copy.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	for _, d := range []string{dst, filepath.Dir(dst)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if filepath.IsAbs(link) && link != "/dev/null" {
				link = filepath.Join(dst, link)
			}
			return os.Symlink(link, out)
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(out, b, 0o644)
		}
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
	return dst
}
