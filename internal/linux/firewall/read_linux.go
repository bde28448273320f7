package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Tools says how Read finds and runs the firewall programs. The zero value
// looks them up in PATH and runs them directly.
type Tools struct {
	// LookPath finds a program; nil means exec.LookPath.
	LookPath func(file string) (string, error)
	// Output runs a program and returns its standard output; a failure's
	// error should carry the program's standard error. Nil means running
	// it with LC_ALL=C.
	Output func(ctx context.Context, path string, args ...string) ([]byte, error)
	// Timeout bounds each program; zero means 10 seconds.
	Timeout time.Duration
}

// Read reads the host firewall with the default Tools.
func Read(ctx context.Context) (*Ruleset, error) { return Tools{}.Read(ctx) }

// Read reads the firewall of the caller's network namespace, once, for
// many evaluations:
//
//   - nftables with `nft -j list ruleset` (this includes the tables
//     iptables-nft writes);
//   - the tables iptables-nft wrote, again, with iptables-nft-save and
//     ip6tables-nft-save, which show the options of the xt matches that
//     nft -j leaves out; they replace those tables' nft view;
//   - legacy iptables with iptables-legacy-save and ip6tables-legacy-save
//     (or iptables-save where that is the legacy one): legacy rules are not
//     visible to nft.
//
// Read always returns a usable Ruleset. What it could not read stays in the
// Ruleset as a part that evaluates to Unknown with the reason (a drop
// elsewhere still decides), and the error says what failed, wrapping
// ErrPermission (the caller lacks CAP_NET_ADMIN) or ErrNoTools (neither nft
// nor iptables-save is installed) where they apply.
func (t Tools) Read(ctx context.Context) (*Ruleset, error) {
	var parts []*Ruleset
	var errs []error
	fail := func(source string, family int, what string, err error) {
		errs = append(errs, fmt.Errorf("reading %s: %w", what, err))
		parts = append(parts, unreadable(source, family, reasonFor(what, err)))
	}
	found := false

	var nft *Ruleset
	if path, err := t.lookPath("nft"); err == nil {
		found = true
		out, err := t.output(ctx, path, "-j", "list", "ruleset")
		if err == nil {
			nft, err = ParseNFT(out)
		}
		if err != nil {
			nft = nil
			fail("nftables", 0, "nftables (nft -j list ruleset)", err)
		}
	}

	var nftTables []string // the iptables-nft tables read, as "ip filter"
	for _, family := range []int{4, 6} {
		cmd := "iptables"
		fam := "ip"
		if family == 6 {
			cmd, fam = "ip6tables", "ip6"
		}
		if path, ok := t.saveTool(ctx, cmd, true); ok {
			found = true
			out, err := t.output(ctx, path)
			var ipt *Ruleset
			if err == nil {
				ipt, err = parseIptables(out, family, "iptables-nft")
			}
			switch {
			case err != nil && nft != nil:
				// nft's own view of these tables stands, with their xt
				// matches undecidable.
				errs = append(errs, fmt.Errorf("reading iptables-nft (%s): %w", path, err))
			case err != nil:
				fail("iptables-nft", family, "iptables-nft ("+filepath.Base(path)+")", err)
			case nft != nil:
				nft.adopt(ipt, fam)
			default:
				parts = append(parts, ipt)
				for _, c := range ipt.chains {
					if tb := fam + " " + c.table; !slices.Contains(nftTables, tb) {
						nftTables = append(nftTables, tb)
					}
				}
			}
		}
		if path, ok := t.saveTool(ctx, cmd, false); ok {
			found = true
			out, err := t.output(ctx, path)
			var ipt *Ruleset
			if err == nil {
				ipt, err = parseIptables(out, family, "iptables")
			}
			if err != nil {
				fail("iptables", family, "legacy iptables ("+filepath.Base(path)+")", err)
				continue
			}
			parts = append(parts, ipt)
		}
	}

	if nft == nil && found {
		// Without nft, the kernel can still say which nftables tables
		// exist: any that iptables-nft-save did not show is unread.
		if _, err := t.lookPath("nft"); err != nil {
			tables, err := kernelTables()
			switch {
			case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EPROTONOSUPPORT):
				// No nf_tables in this kernel: no tables.
			case err != nil:
				fail("nftables", 0, "the list of nftables tables (nft is not installed)", err)
			}
			var unseen []string
			for _, tb := range tables {
				if !slices.Contains(nftTables, tb) {
					unseen = append(unseen, tb)
				}
			}
			if len(unseen) > 0 {
				parts = append(parts, unreadable("nftables", 0, fmt.Sprintf(
					"nft is not installed, so the rules of nftables table %s cannot be read", strings.Join(unseen, ", "))))
			}
		}
	}
	if !found {
		err := fmt.Errorf("reading the firewall: %w", ErrNoTools)
		return Merge(unreadable("", 0, ErrNoTools.Error()+": the firewall cannot be read")), err
	}
	rs := Merge(append([]*Ruleset{nft}, parts...)...)
	return rs, errors.Join(errs...)
}

func (t Tools) lookPath(file string) (string, error) {
	if t.LookPath != nil {
		return t.LookPath(file)
	}
	return exec.LookPath(file)
}

func (t Tools) output(ctx context.Context, path string, args ...string) ([]byte, error) {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if t.Output != nil {
		out, err := t.Output(ctx, path, args...)
		return out, permission(err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, strings.Join(strings.Fields(msg), " "))
		}
		return nil, permission(err)
	}
	return out, nil
}

// saveTool finds the save program of the nf_tables backend (nftBackend) or
// of the legacy one: cmd-nft-save or cmd-legacy-save, else cmd-save when
// `cmd-save -V` names that backend ("iptables-save v1.8.9 (nf_tables)";
// versions before 1.8 are legacy and say nothing).
func (t Tools) saveTool(ctx context.Context, cmd string, nftBackend bool) (string, bool) {
	variant := cmd + "-legacy-save"
	if nftBackend {
		variant = cmd + "-nft-save"
	}
	if path, err := t.lookPath(variant); err == nil {
		return path, true
	}
	path, err := t.lookPath(cmd + "-save")
	if err != nil {
		return "", false
	}
	out, err := t.output(ctx, path, "-V")
	if err != nil {
		return "", false
	}
	isNFT := bytes.Contains(out, []byte("nf_tables"))
	return path, isNFT == nftBackend
}

// reasonFor phrases a read failure for Decision.Reason.
func reasonFor(what string, err error) string {
	if errors.Is(err, ErrPermission) {
		return "reading " + what + " needs root (CAP_NET_ADMIN)"
	}
	return fmt.Sprintf("%s cannot be read: %v", what, err)
}

// permission marks errors that say the caller lacks CAP_NET_ADMIN.
func permission(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) ||
		strings.Contains(msg, "Operation not permitted") || strings.Contains(msg, "Permission denied") ||
		strings.Contains(msg, "must be root") {
		return fmt.Errorf("%w: %w", ErrPermission, err)
	}
	return err
}

// nfnetlink constants (include/uapi/linux/netfilter/nfnetlink.h,
// nf_tables.h, netfilter.h).
const (
	nfnlSubsysNFTables = 10
	nftMsgGetTable     = 1
	nftaTableName      = 1
)

var nfprotoNames = map[uint8]string{1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"}

// kernelTables lists the nftables tables over nfnetlink, as "inet filter".
func kernelTables() ([]string, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return nil, permission(fmt.Errorf("opening nfnetlink: %w", err))
	}
	defer c.Close()
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(nfnlSubsysNFTables<<8 | nftMsgGetTable),
			Flags: netlink.Request | netlink.Dump,
		},
		// struct nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0.
		Data: []byte{unix.AF_UNSPEC, 0, 0, 0},
	}
	msgs, err := c.Execute(req)
	if err != nil {
		return nil, permission(fmt.Errorf("dumping nftables tables: %w", err))
	}
	var out []string
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			continue
		}
		for ad.Next() {
			if ad.Type() == nftaTableName {
				fam := nfprotoNames[m.Data[0]]
				if fam == "" {
					fam = fmt.Sprintf("family%d", m.Data[0])
				}
				out = append(out, fam+" "+ad.String())
			}
		}
	}
	return out, nil
}
