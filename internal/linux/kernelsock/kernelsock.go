// Package kernelsock explains sockets that no process holds: the kernel
// opened them for a device or a service of its own. It knows the tunnel
// devices that listen on a UDP port (vxlan, geneve, bareudp, wireguard), the
// NFS server (nfsd) and lock manager (lockd), and the in-kernel SMB server
// (ksmbd).
//
// Decoding (this file) is portable and takes bytes; kernelsock_linux.go asks
// the kernel over rtnetlink and generic netlink and reads /proc.
package kernelsock

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mdlayher/netlink"

	"github.com/whobinds/whobinds/internal/model"
)

// Owner is a kernel component that holds a socket on a port.
type Owner struct {
	Proto model.Proto
	Port  uint16
	// Kind is the component: "vxlan", "geneve", "bareudp", "wireguard",
	// "nfsd", "lockd", "ksmbd".
	Kind string
	// Name is the device name for tunnels, empty for services.
	Name string
	// Detail says what the component is, for people.
	Detail string
	// Evidence is where the fact came from.
	Evidence string
}

// Match returns the owner of a socket with no holder: the first owner with
// the same protocol and port.
func Match(owners []Owner, s *model.Socket) (Owner, bool) {
	for _, o := range owners {
		if o.Proto == s.Proto && o.Port == s.Local.Port() {
			return o, true
		}
	}
	return Owner{}, false
}

// Link is what rtnetlink says about one network device that may hold a
// kernel socket.
type Link struct {
	Index int32
	Name  string
	Kind  string
	// Port is the UDP port a tunnel device listens on; 0 if none.
	Port uint16
	// VNI is the virtual network identifier of vxlan and geneve devices.
	VNI uint32
	// Local is the tunnel's local address, when set.
	Local netip.Addr
}

// Attribute numbers from include/uapi/linux/if_link.h and
// include/uapi/linux/rtnetlink.h.
const (
	ifinfomsgLen   = 16
	iflaIfname     = 3
	iflaLinkinfo   = 18
	iflaInfoKind   = 1
	iflaInfoData   = 2
	vxlanID        = 1
	vxlanLocal     = 4
	vxlanPort      = 15
	vxlanLocal6    = 17
	geneveID       = 1
	genevePort     = 5
	bareudpPort    = 1
	rtmNewLink     = 16
	wgDeviceIfname = 2
	wgDeviceListen = 6
	wgCmdGetDevice = 0
)

// ParseLink decodes the payload of one RTM_NEWLINK message (struct
// ifinfomsg followed by attributes). Devices of kinds that hold no socket
// are returned with Port 0.
func ParseLink(b []byte) (Link, error) {
	var l Link
	if len(b) < ifinfomsgLen {
		return l, fmt.Errorf("link message: %d bytes, want at least %d", len(b), ifinfomsgLen)
	}
	l.Index = int32(binary.NativeEndian.Uint32(b[4:8]))
	ad, err := netlink.NewAttributeDecoder(b[ifinfomsgLen:])
	if err != nil {
		return l, fmt.Errorf("link message: %w", err)
	}
	var data []byte
	for ad.Next() {
		switch ad.Type() {
		case iflaIfname:
			l.Name = ad.String()
		case iflaLinkinfo:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch nad.Type() {
					case iflaInfoKind:
						l.Kind = nad.String()
					case iflaInfoData:
						data = nad.Bytes()
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return l, fmt.Errorf("link %q: %w", l.Name, err)
	}
	if data != nil {
		if err := l.parseInfoData(data); err != nil {
			return l, fmt.Errorf("link %q (%s): %w", l.Name, l.Kind, err)
		}
	}
	return l, nil
}

func (l *Link) parseInfoData(b []byte) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return err
	}
	be16 := func() uint16 {
		if v := ad.Bytes(); len(v) == 2 {
			return binary.BigEndian.Uint16(v)
		}
		return 0
	}
	for ad.Next() {
		switch l.Kind {
		case "vxlan":
			switch ad.Type() {
			case vxlanID:
				l.VNI = ad.Uint32()
			case vxlanPort:
				l.Port = be16()
			case vxlanLocal, vxlanLocal6:
				if a, ok := netip.AddrFromSlice(ad.Bytes()); ok {
					l.Local = a
				}
			}
		case "geneve":
			switch ad.Type() {
			case geneveID:
				l.VNI = ad.Uint32()
			case genevePort:
				l.Port = be16()
			}
		case "bareudp":
			if ad.Type() == bareudpPort {
				l.Port = be16()
			}
		}
	}
	return ad.Err()
}

// ParseWireGuardDevice decodes the attributes of a WG_CMD_GET_DEVICE reply
// (include/uapi/linux/wireguard.h): the device name and listen port.
func ParseWireGuardDevice(b []byte) (name string, port uint16, err error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return "", 0, err
	}
	for ad.Next() {
		switch ad.Type() {
		case wgDeviceIfname:
			name = ad.String()
		case wgDeviceListen:
			port = ad.Uint16()
		}
	}
	return name, port, ad.Err()
}

// LinkOwners turns tunnel devices into socket owners; devices that listen
// on no port are dropped.
func LinkOwners(links []Link) []Owner {
	var out []Owner
	for _, l := range links {
		if l.Port == 0 {
			continue
		}
		d := fmt.Sprintf("%s device %s", l.Kind, l.Name)
		if l.VNI != 0 || l.Kind == "vxlan" || l.Kind == "geneve" {
			d += fmt.Sprintf(" (VNI %d)", l.VNI)
		}
		out = append(out, Owner{
			Proto:    model.UDP,
			Port:     l.Port,
			Kind:     l.Kind,
			Name:     l.Name,
			Detail:   "UDP socket of " + d + ": the kernel opens it while the device is up",
			Evidence: "rtnetlink: link " + l.Name + " kind " + l.Kind,
		})
	}
	return out
}

// ParseNfsdPortlist parses /proc/fs/nfsd/portlist ("tcp 2049" per line)
// into owners.
func ParseNfsdPortlist(b []byte) ([]Owner, error) {
	var out []Owner
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("portlist line %d: %q: want \"PROTO PORT\"", n, sc.Text())
		}
		port, err := strconv.ParseUint(f[1], 10, 16)
		if err != nil {
			return nil, fmt.Errorf("portlist line %d: %w", n, err)
		}
		var proto model.Proto
		switch f[0] {
		case "tcp":
			proto = model.TCP
		case "udp":
			proto = model.UDP
		default:
			continue // rdma and others hold no TCP/UDP socket
		}
		out = append(out, Owner{
			Proto: proto, Port: uint16(port), Kind: "nfsd",
			Detail:   "the kernel NFS server (nfsd) listens here",
			Evidence: "/proc/fs/nfsd/portlist",
		})
	}
	return out, sc.Err()
}

// ParseSysctlPort parses a sysctl holding a port number such as
// /proc/sys/fs/nfs/nlm_tcpport. Zero means the port is chosen at run time.
func ParseSysctlPort(b []byte) (uint16, error) {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return 0, errors.New("empty")
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err
}
