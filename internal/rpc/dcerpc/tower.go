package dcerpc

// This file holds Entry and the protocol tower it is decoded from (C706
// appendix L; [MS-RPCE] 2.2.1.1.7). A tower is floor_count u16, then that
// many floors of lhs_len u16, lhs, rhs_len u16, rhs, the counts
// little-endian. The first byte of lhs is the floor's protocol identifier.
//
//	floor 1  0x0d + interface UUID + major u16 LE | minor u16 LE
//	floor 2  0x0d + transfer syntax UUID + major  | minor
//	floor 3  RPC protocol: 0x0b ncacn, 0x0a ncadg, 0x0c ncalrpc
//	floor 4  transport: 0x07 TCP port, 0x08 UDP port, 0x1f HTTP port (u16
//	         big-endian), 0x0f SMB pipe name, 0x10 named pipe / LRPC name
//	floor 5  host: 0x09 IPv4 address, 0x11 or 0x01 NetBIOS name
//
// Like Impacket's PrintStringBinding, the protocol sequence is named by
// the transport floor; floors that are not understood are skipped.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/whobinds/whobinds/internal/kb"
)

// Floor protocol identifiers.
const (
	floorUUID      = 0x0d
	floorTCP       = 0x07
	floorUDP       = 0x08
	floorIP        = 0x09
	floorSMB       = 0x0f
	floorPipe      = 0x10
	floorNetBIOS   = 0x11
	floorNetBIOS01 = 0x01
	floorHTTP      = 0x1f
)

// Protocol sequences Entry.Protocol takes besides "unknown(0xNN)".
const (
	ProtoTCP   = "ncacn_ip_tcp"
	ProtoUDP   = "ncadg_ip_udp"
	ProtoNP    = "ncacn_np"
	ProtoLRPC  = "ncalrpc"
	ProtoHTTP  = "ncacn_http"
	protoOther = "unknown(0x%02x)"
)

// Entry is one endpoint-map entry.
type Entry struct {
	// Object is the object UUID, lower case; "" when nil.
	Object string
	// Interface is the interface UUID, lower case.
	Interface string
	// Version is the interface version, "major.minor".
	Version string
	// Protocol is the protocol sequence: ncacn_ip_tcp, ncadg_ip_udp,
	// ncacn_np, ncalrpc, ncacn_http, or "unknown(0xNN)" with the
	// transport floor's identifier. It is "" for an entry without a tower.
	Protocol string
	// Host is the network address from the tower: an IPv4 address (often
	// "0.0.0.0") or a NetBIOS name; "" when the tower has none.
	Host string
	// Endpoint is the port in decimal for the IP protocols, the pipe or
	// LRPC endpoint name otherwise.
	Endpoint string
	// Port is the port for ncacn_ip_tcp, ncadg_ip_udp and ncacn_http, else 0.
	Port uint16
	// Annotation is the server's free-text note, often empty.
	Annotation string
}

// Binding returns the entry as a string binding, as rpcdump prints it:
// "ncacn_ip_tcp:0.0.0.0[49668]", `ncacn_np:\\HOST[\pipe\lsass]`,
// "ncalrpc:[LRPC-0123]".
func (e Entry) Binding() string {
	switch e.Protocol {
	case ProtoNP:
		host := e.Host
		if host != "" && !strings.HasPrefix(host, `\\`) {
			host = `\\` + host
		}
		return e.Protocol + ":" + host + "[" + e.Endpoint + "]"
	case ProtoLRPC:
		return e.Protocol + ":[" + e.Endpoint + "]"
	}
	return e.Protocol + ":" + e.Host + "[" + e.Endpoint + "]"
}

// Name names the interface from the MS-RPC table, "MS-SAMR (samr)"; ""
// when the table does not know it. When several protocols share the UUID
// (MS-LSAD and MS-LSAT both use lsarpc's), they are all named:
// "MS-LSAD/MS-LSAT (lsarpc)". The table's entries for the entry's version
// are preferred.
func (e Entry) Name() string {
	ifs := kb.RPCInterfaces(e.Interface)
	var match []kb.Interface
	for _, i := range ifs {
		for _, v := range i.Versions {
			if v == "v"+e.Version {
				match = append(match, i)
				break
			}
		}
	}
	if len(match) == 0 {
		match = ifs
	}
	var parts []string
	names := map[string]int{} // interface name → index in parts
	var domains [][]string
	for _, i := range match {
		k, ok := names[i.Name]
		if !ok {
			k = len(parts)
			names[i.Name] = k
			parts = append(parts, i.Name)
			domains = append(domains, nil)
		}
		domains[k] = append(domains[k], i.Domain)
	}
	for k, name := range parts {
		d := strings.Join(domains[k], "/")
		switch {
		case name == "":
			parts[k] = d
		case d == "":
			parts[k] = name
		default:
			parts[k] = d + " (" + name + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// setTower copies the fields that come from the tower of another entry.
func (e *Entry) setTower(from *Entry) {
	e.Interface, e.Version = from.Interface, from.Version
	e.Protocol, e.Host, e.Endpoint, e.Port = from.Protocol, from.Host, from.Endpoint, from.Port
}

// floor is one tower floor; the slices alias the tower.
type floor struct {
	lhs, rhs []byte
}

// nextFloor splits the first floor off b.
func nextFloor(b []byte) (floor, []byte, error) {
	var f floor
	for _, side := range []*[]byte{&f.lhs, &f.rhs} {
		if len(b) < 2 {
			return f, nil, fmt.Errorf("%w: tower ends inside a floor", ErrMalformed)
		}
		n := int(le.Uint16(b))
		b = b[2:]
		if len(b) < n {
			return f, nil, fmt.Errorf("%w: floor side of %d bytes in %d", ErrMalformed, n, len(b))
		}
		*side = b[:n]
		b = b[n:]
	}
	if len(f.lhs) == 0 {
		return f, nil, fmt.Errorf("%w: floor without a protocol identifier", ErrMalformed)
	}
	return f, b, nil
}

// parseTower decodes a tower octet string into e's Interface, Version,
// Protocol, Host, Endpoint and Port.
func parseTower(b []byte, e *Entry) error {
	if len(b) < 2 {
		return fmt.Errorf("%w: tower of %d bytes", ErrMalformed, len(b))
	}
	count := int(le.Uint16(b))
	if count < 3 {
		return fmt.Errorf("%w: tower of %d floors", ErrMalformed, count)
	}
	b = b[2:]
	var transport byte
	var rpcProto byte
	for i := 0; i < count; i++ {
		f, rest, err := nextFloor(b)
		if err != nil {
			return fmt.Errorf("floor %d: %w", i+1, err)
		}
		b = rest
		id := f.lhs[0]
		switch {
		case i == 0:
			if id != floorUUID || len(f.lhs) != 19 || len(f.rhs) != 2 {
				return fmt.Errorf("%w: floor 1 is not an interface identifier (0x%02x, %d and %d bytes)",
					ErrMalformed, id, len(f.lhs), len(f.rhs))
			}
			e.Interface = formatUUID(f.lhs[1:17])
			e.Version = strconv.Itoa(int(le.Uint16(f.lhs[17:]))) + "." + strconv.Itoa(int(le.Uint16(f.rhs)))
		case i == 1: // transfer syntax: NDR (or NDR64) for everything the mapper lists
		case i == 2:
			rpcProto = id
		case i == 3:
			transport = id
			if err := e.setTransport(id, f.rhs); err != nil {
				return fmt.Errorf("floor 4: %w", err)
			}
		default:
			if err := e.setHost(id, f.rhs); err != nil {
				return fmt.Errorf("floor %d: %w", i+1, err)
			}
		}
	}
	if count == 3 { // no transport floor: name what there is
		transport = rpcProto
	}
	if e.Protocol == "" {
		e.Protocol = fmt.Sprintf(protoOther, transport)
	}
	return nil
}

func (e *Entry) setTransport(id byte, rhs []byte) error {
	switch id {
	case floorTCP, floorUDP, floorHTTP:
		if len(rhs) != 2 {
			return fmt.Errorf("%w: port of %d bytes", ErrMalformed, len(rhs))
		}
		e.Port = uint16(rhs[0])<<8 | uint16(rhs[1]) // big-endian
		e.Endpoint = strconv.Itoa(int(e.Port))
		e.Protocol = map[byte]string{floorTCP: ProtoTCP, floorUDP: ProtoUDP, floorHTTP: ProtoHTTP}[id]
	case floorSMB:
		e.Protocol, e.Endpoint = ProtoNP, cleanString(rhs)
	case floorPipe:
		e.Protocol, e.Endpoint = ProtoLRPC, cleanString(rhs)
	}
	return nil
}

func (e *Entry) setHost(id byte, rhs []byte) error {
	switch id {
	case floorIP:
		if len(rhs) != 4 {
			return fmt.Errorf("%w: IPv4 address of %d bytes", ErrMalformed, len(rhs))
		}
		e.Host = netip.AddrFrom4([4]byte(rhs)).String()
	case floorNetBIOS, floorNetBIOS01:
		e.Host = cleanString(rhs)
	}
	return nil
}
