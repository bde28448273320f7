package kernelsock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/whobinds/whobinds/internal/model"
)

// Collect lists the kernel components that hold sockets of a protocol in
// a network namespace: netnsFD is an open namespace file, or -1 for ours.
// Tunnel devices hold only UDP sockets, so for TCP no device is asked
// about. procRoot is normally "/proc"; its files only describe our own
// namespace, so they are read only when netnsFD is -1. Failures of one
// source do not stop the others; they are returned joined.
func Collect(netnsFD int, procRoot string, proto model.Proto) ([]Owner, error) {
	var owners []Owner
	if netnsFD < 0 {
		owners = fileOwners(procRoot)
	}
	if proto != model.UDP {
		return owners, nil
	}
	var errs []error
	links, err := dumpLinks(netnsFD)
	if err != nil {
		errs = append(errs, fmt.Errorf("listing network devices: %w", err))
	}
	owners = append(owners, LinkOwners(links)...)
	for _, l := range links {
		if l.Kind == "wireguard" {
			wg, err := wireGuardOwners(netnsFD)
			if err != nil {
				errs = append(errs, fmt.Errorf("asking wireguard for its ports: %w", err))
			}
			owners = append(owners, wg...)
			break
		}
	}
	return owners, errors.Join(errs...)
}

func dial(family, netnsFD int) (*netlink.Conn, error) {
	cfg := &netlink.Config{}
	if netnsFD >= 0 {
		cfg.NetNS = netnsFD
	}
	return netlink.Dial(family, cfg)
}

func dumpLinks(netnsFD int) ([]Link, error) {
	c, err := dial(unix.NETLINK_ROUTE, netnsFD)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	req := netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, ifinfomsgLen), // AF_UNSPEC: every device
	}
	msgs, err := c.Execute(req)
	if err != nil {
		return nil, err
	}
	links := make([]Link, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != rtmNewLink {
			continue
		}
		l, err := ParseLink(m.Data)
		if err != nil {
			return links, err
		}
		links = append(links, l)
	}
	return links, nil
}

func wireGuardOwners(netnsFD int) ([]Owner, error) {
	cfg := &netlink.Config{}
	if netnsFD >= 0 {
		cfg.NetNS = netnsFD
	}
	c, err := genetlink.Dial(cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	fam, err := c.GetFamily("wireguard")
	if err != nil {
		return nil, err
	}
	msgs, err := c.Execute(genetlink.Message{Header: genetlink.Header{Command: wgCmdGetDevice, Version: fam.Version}},
		fam.ID, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, err
	}
	var out []Owner
	for _, m := range msgs {
		name, port, err := ParseWireGuardDevice(m.Data)
		if err != nil {
			return out, err
		}
		if port != 0 {
			out = append(out, Owner{
				Proto: model.UDP, Port: port, Kind: "wireguard", Name: name,
				Detail:   "UDP socket of wireguard device " + name + ": the kernel opens it while the device is up",
				Evidence: "generic netlink: wireguard WG_CMD_GET_DEVICE",
			})
		}
	}
	return out, nil
}

// fileOwners reads what the kernel's NFS and SMB servers publish in /proc
// and /sys about our own namespace.
func fileOwners(procRoot string) []Owner {
	var out []Owner
	if b, err := os.ReadFile(filepath.Join(procRoot, "fs/nfsd/portlist")); err == nil {
		if o, err := ParseNfsdPortlist(b); err == nil {
			out = append(out, o...)
		}
	}
	for _, s := range []struct {
		file  string
		proto model.Proto
	}{{"sys/fs/nfs/nlm_tcpport", model.TCP}, {"sys/fs/nfs/nlm_udpport", model.UDP}} {
		b, err := os.ReadFile(filepath.Join(procRoot, s.file))
		if err != nil {
			continue
		}
		if port, err := ParseSysctlPort(b); err == nil && port != 0 {
			out = append(out, Owner{
				Proto: s.proto, Port: port, Kind: "lockd",
				Detail:   "the kernel NFS lock manager (lockd, NLM) listens here",
				Evidence: filepath.Join(procRoot, s.file),
			})
		}
	}
	if _, err := os.Stat("/sys/class/ksmbd-control"); err == nil {
		out = append(out, Owner{
			Proto: model.TCP, Port: 445, Kind: "ksmbd",
			Detail:   "the in-kernel SMB server (ksmbd) listens here",
			Evidence: "/sys/class/ksmbd-control",
		})
	}
	return out
}
