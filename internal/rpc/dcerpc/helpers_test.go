package dcerpc

// This file holds the server side the tests need: encoders for towers,
// ept_lookup response stubs and the PDUs an endpoint mapper sends. The
// fake servers and the round-trip fuzz targets use them.

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func unhexString(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testFloor is one tower floor, written by hand from the floor table.
type testFloor struct{ lhs, rhs []byte }

func towerOf(floors ...testFloor) []byte {
	b := le.AppendUint16(nil, uint16(len(floors)))
	for _, f := range floors {
		b = le.AppendUint16(b, uint16(len(f.lhs)))
		b = append(b, f.lhs...)
		b = le.AppendUint16(b, uint16(len(f.rhs)))
		b = append(b, f.rhs...)
	}
	return b
}

func ifaceFloor(uuid string, major, minor uint16) testFloor {
	u := mustUUID(uuid)
	lhs := append([]byte{floorUUID}, u[:]...)
	return testFloor{le.AppendUint16(lhs, major), le.AppendUint16(nil, minor)}
}

func ndrFloor() testFloor { return ifaceFloor("8a885d04-1ceb-11c9-9fe8-08002b104860", 2, 0) }

func idFloor(id byte, rhs []byte) testFloor { return testFloor{[]byte{id}, rhs} }

func portRHS(p uint16) []byte { return []byte{byte(p >> 8), byte(p)} }

func cstr(s string) []byte { return append([]byte(s), 0) }

// encodeTower writes the tower an Entry was decoded from, in the floor
// layout Windows uses for its protocol sequence.
func encodeTower(e Entry) []byte {
	var major, minor uint16
	if maj, min, ok := strings.Cut(e.Version, "."); ok {
		a, _ := strconv.Atoi(maj)
		b, _ := strconv.Atoi(min)
		major, minor = uint16(a), uint16(b)
	}
	floors := []testFloor{ifaceFloor(e.Interface, major, minor), ndrFloor()}
	host := func() []testFloor {
		if e.Host == "" {
			return nil
		}
		if a, err := netip.ParseAddr(e.Host); err == nil && a.Is4() && a.String() == e.Host {
			ip := a.As4()
			return []testFloor{idFloor(floorIP, ip[:])}
		}
		return []testFloor{idFloor(floorNetBIOS, cstr(e.Host))}
	}
	switch e.Protocol {
	case ProtoTCP:
		floors = append(floors, idFloor(0x0b, []byte{0, 0}), idFloor(floorTCP, portRHS(e.Port)))
	case ProtoUDP:
		floors = append(floors, idFloor(0x0a, []byte{0, 0}), idFloor(floorUDP, portRHS(e.Port)))
	case ProtoHTTP:
		floors = append(floors, idFloor(0x0b, []byte{0, 0}), idFloor(floorHTTP, portRHS(e.Port)))
	case ProtoNP:
		floors = append(floors, idFloor(0x0b, []byte{0, 0}), idFloor(floorSMB, cstr(e.Endpoint)))
	case ProtoLRPC:
		floors = append(floors, idFloor(0x0c, []byte{0, 0}), idFloor(floorPipe, cstr(e.Endpoint)))
	default:
		var id byte
		fmt.Sscanf(e.Protocol, protoOther, &id)
		if e.Host == "" {
			return towerOf(append(floors, idFloor(id, nil))...)
		}
		floors = append(floors, idFloor(0x0b, []byte{0, 0}), idFloor(id, nil))
	}
	return towerOf(append(floors, host()...)...)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// encodeLookupResponse writes an ept_lookup response stub the way Windows
// and Impacket do: referent ids 0x00020000 + 4i, max_count 500.
func encodeLookupResponse(r lookupResponse) []byte {
	b := append([]byte(nil), r.Handle[:]...)
	b = le.AppendUint32(b, uint32(len(r.Entries)))
	b = le.AppendUint32(b, maxEnts)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, uint32(len(r.Entries)))
	for i, e := range r.Entries {
		b = pad4(b)
		var obj [16]byte
		if e.Object != "" {
			obj = mustUUID(e.Object)
		}
		b = append(b, obj[:]...)
		ref := uint32(0)
		if e.Protocol != "" {
			ref = 0x00020000 + 4*uint32(i)
		}
		b = le.AppendUint32(b, ref)
		ann := cstr(e.Annotation)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, uint32(len(ann)))
		b = append(b, ann...)
	}
	for _, e := range r.Entries {
		if e.Protocol == "" {
			continue
		}
		t := encodeTower(e)
		b = pad4(b)
		b = le.AppendUint32(b, uint32(len(t)))
		b = le.AppendUint32(b, uint32(len(t)))
		b = append(b, t...)
	}
	b = pad4(b)
	return le.AppendUint32(b, r.Status)
}

// bindAck is the bind_ack Samba sends: secondary address "135", the
// endpoint mapper accepted in NDR.
func bindAck(callID uint32) []byte {
	b := appendHeader(nil, ptypeBindAck, pfcFirstFrag|pfcLastFrag, 0, callID)
	b = le.AppendUint16(b, 4280)
	b = le.AppendUint16(b, 4280)
	b = le.AppendUint32(b, 0x12345)
	b = le.AppendUint16(b, 4)
	b = append(b, "135\x00"...)
	b = pad4(b)
	b = append(b, 1, 0, 0, 0)
	b = le.AppendUint16(b, 0) // result: acceptance
	b = le.AppendUint16(b, 0)
	b = append(b, ndrUUID[:]...)
	b = le.AppendUint32(b, 2)
	return setFragLen(b)
}

func setFragLen(b []byte) []byte {
	le.PutUint16(b[8:], uint16(len(b)))
	return b
}

func bindNak(callID uint32, reason uint16) []byte {
	b := appendHeader(nil, ptypeBindNak, pfcFirstFrag|pfcLastFrag, 0, callID)
	b = le.AppendUint16(b, reason)
	b = append(b, 1, 5, 0) // one supported version: 5.0
	return setFragLen(b)
}

func faultPDU(callID, status uint32) []byte {
	b := appendHeader(nil, ptypeFault, pfcFirstFrag|pfcLastFrag, 0, callID)
	b = le.AppendUint32(b, 0)
	b = append(b, 0, 0, 0, 0)
	b = le.AppendUint32(b, status)
	b = le.AppendUint32(b, 0)
	return setFragLen(b)
}

// responsePDUs splits a stub into response fragments of at most chunk
// stub bytes each.
func responsePDUs(callID uint32, stub []byte, chunk int) []byte {
	var out []byte
	for first := true; first || len(stub) > 0; first = false {
		n := min(chunk, len(stub))
		var flags uint8
		if first {
			flags |= pfcFirstFrag
		}
		if n == len(stub) {
			flags |= pfcLastFrag
		}
		out = append(out, responseFragment(callID, flags, uint32(len(stub)), stub[:n])...)
		stub = stub[n:]
	}
	return out
}

func responseFragment(callID uint32, flags uint8, allocHint uint32, stub []byte) []byte {
	b := appendHeader(nil, ptypeResponse, flags, 0, callID)
	b = le.AppendUint32(b, allocHint)
	b = append(b, 0, 0, 0, 0)
	b = append(b, stub...)
	return setFragLen(b)
}
