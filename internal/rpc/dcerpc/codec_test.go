package dcerpc

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Golden vectors from shared/design/windows.md §5.4, generated with Impacket
// and parsed back by Impacket.
const (
	goldenBind = `05000b03100000004800000001000000b810b8100000000001000000000001000883afe11f5dc91191a408002b14a0fa
		03000000045d888aeb1cc9119fe808002b10486002000000`
	goldenLookup = `050000031000000040000000020000002800000000000200000000000000000000000000010000000000000000000000
		000000000000000000000000f4010000`
	goldenStub = `000000001111111111111111111111111111111102000000f40100000000000002000000000000000000000000000000
		0000000000000200000000001a00000053706f6f6c65722066756e6374696f6e20656e64706f696e7400000000000000
		0000000000000000000000000400020000000000100000004576656e74206c6f67205443504950004b0000004b000000
		050013000d785634123412cdabef000123456789ab01000200000013000d045d888aeb1cc9119fe808002b1048600200
		0200000001000b020000000100070200c204010009040000000000004b0000004b000000050013000df7afbef6191ebb
		4f9f8fb89e2018337c01000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b0200000001
		00070200c2020100090400000000000000000000`
)

// goldenEntries are what Impacket decodes goldenStub to.
var goldenEntries = []Entry{
	{Interface: "12345678-1234-abcd-ef00-0123456789ab", Version: "1.0", Protocol: ProtoTCP,
		Host: "0.0.0.0", Endpoint: "49668", Port: 49668, Annotation: "Spooler function endpoint"},
	{Interface: "f6beaff7-1e19-4fbb-9f8f-b89e2018337c", Version: "1.0", Protocol: ProtoTCP,
		Host: "0.0.0.0", Endpoint: "49666", Port: 49666, Annotation: "Event log TCPIP"},
}

var moreHandle = [handleLen]byte{0, 0, 0, 0, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11}

func TestGoldenBind(t *testing.T) {
	if got, want := encodeBind(1, 4280), unhexString(t, goldenBind); !bytes.Equal(got, want) {
		t.Errorf("encodeBind(1, 4280) = %x; want %x", got, want)
	}
}

func TestGoldenLookupRequest(t *testing.T) {
	got := encodeRequest(2, opLookup, encodeLookup([handleLen]byte{}, maxEnts))
	if want := unhexString(t, goldenLookup); !bytes.Equal(got, want) {
		t.Errorf("ept_lookup request = %x; want %x", got, want)
	}
}

func TestGoldenLookupResponse(t *testing.T) {
	stub := unhexString(t, goldenStub)
	if len(stub) != 308 {
		t.Fatalf("golden stub is %d bytes; want 308", len(stub))
	}
	got, err := decodeLookupResponse(stub, 10000)
	if err != nil {
		t.Fatalf("decodeLookupResponse(golden) = %v", err)
	}
	want := lookupResponse{Handle: moreHandle, Entries: goldenEntries}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decodeLookupResponse(golden) mismatch (-want +got):\n%s", diff)
	}
	if got.done() {
		t.Errorf("done() = true for the golden reply's handle %x; want false", got.Handle)
	}
	var bindings []string
	for _, e := range got.Entries {
		bindings = append(bindings, e.Binding())
	}
	if diff := cmp.Diff([]string{"ncacn_ip_tcp:0.0.0.0[49668]", "ncacn_ip_tcp:0.0.0.0[49666]"}, bindings); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
	// The test encoder, which the fake servers use, writes the same bytes.
	if enc := encodeLookupResponse(want); !bytes.Equal(enc, stub) {
		t.Errorf("encodeLookupResponse(golden entries) = %x; want %x", enc, stub)
	}
}

func TestUUID(t *testing.T) {
	tests := []struct {
		in   string
		wire string
	}{
		{"e1af8308-5d1f-11c9-91a4-08002b14a0fa", "0883afe11f5dc91191a408002b14a0fa"},
		{"8a885d04-1ceb-11c9-9fe8-08002b104860", "045d888aeb1cc9119fe808002b104860"},
		{"12345778-1234-ABCD-EF00-0123456789AC", "785734123412cdabef000123456789ac"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := parseUUID(tt.in)
			if err != nil {
				t.Fatalf("parseUUID(%q) = %v", tt.in, err)
			}
			if got := hexOf(u[:]); got != tt.wire {
				t.Errorf("parseUUID(%q) = %s; want %s", tt.in, got, tt.wire)
			}
			if got, want := formatUUID(u[:]), strings.ToLower(tt.in); got != want {
				t.Errorf("formatUUID(%s) = %s; want %s", tt.wire, got, want)
			}
		})
	}
	for _, bad := range []string{"", "e1af8308-5d1f-11c9-91a4-08002b14a0f", "e1af8308x5d1f-11c9-91a4-08002b14a0fa", "g1af8308-5d1f-11c9-91a4-08002b14a0fa"} {
		if _, err := parseUUID(bad); err == nil {
			t.Errorf("parseUUID(%q) = nil error; want an error", bad)
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}

func TestDecodeBindAck(t *testing.T) {
	rejected := bindAck(1)
	rejected[36] = 2 // result: provider rejection
	rejected[38] = 1 // reason: abstract syntax not supported
	tests := []struct {
		name string
		pdu  []byte
		want error // nil: accepted
		msg  string
	}{
		{"accepted", bindAck(1), nil, ""},
		{"bind_nak", bindNak(1, 4), ErrRejected, "reason 4 (protocol version not supported)"},
		{"result rejected", rejected, ErrRejected, "result 2, reason 1"},
		{"fault", faultPDU(1, 0x1c010003), ErrFault, "0x1c010003 (nca_s_unk_if)"},
		{"truncated", bindAck(1)[:40], ErrMalformed, ""},
		{"short bind_nak", setFragLen(appendHeader(nil, ptypeBindNak, 3, 0, 1)), ErrMalformed, ""},
		{"wrong type", setFragLen(append(appendHeader(nil, ptypeResponse, 3, 0, 1), make([]byte, 8)...)), ErrMalformed, "PDU type 2"},
		{"HTTP", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), ErrNotRPC, `"HTTP/1.1 400 Bad`},
		{"version 4", append([]byte{4, 0}, bindAck(1)[2:]...), ErrNotRPC, ""},
		{"big endian", append([]byte{5, 0, 12, 3, 0}, bindAck(1)[5:]...), ErrMalformed, "big-endian"},
		{"no results", append(bindAck(1)[:32:32], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), ErrMalformed, "without results"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "no results" {
				setFragLen(tt.pdu)
			}
			err := decodeBindAck(tt.pdu)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("decodeBindAck(%x) = %v; want nil", tt.pdu, err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(fmtErr(err), tt.msg) {
				t.Errorf("decodeBindAck(%x) = %v; want %v containing %q", tt.pdu, err, tt.want, tt.msg)
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestResponseStub(t *testing.T) {
	withAuth := responseFragment(2, 3, 4, []byte{1, 2, 3, 4, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb})
	le.PutUint16(withAuth[10:], 2) // 8-byte sec_trailer + 2 auth bytes
	tests := []struct {
		name string
		pdu  []byte
		want []byte
		err  error
	}{
		{"plain", responseFragment(2, 3, 4, []byte{1, 2, 3, 4}), []byte{1, 2, 3, 4}, nil},
		{"empty", responseFragment(2, 3, 0, nil), []byte{}, nil},
		{"auth trailer", withAuth, []byte{1, 2, 3, 4}, nil},
		{"auth longer than the PDU", func() []byte {
			b := responseFragment(2, 3, 4, []byte{1, 2, 3, 4})
			le.PutUint16(b[10:], 100)
			return b
		}(), nil, ErrMalformed},
		{"frag_length past the bytes", func() []byte {
			b := responseFragment(2, 3, 4, []byte{1, 2, 3, 4})
			le.PutUint16(b[8:], 200)
			return b
		}(), nil, ErrMalformed},
		{"shorter than its header", setFragLen(appendHeader(nil, ptypeResponse, 3, 0, 2)), nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseHeader(tt.pdu)
			if err != nil {
				t.Fatal(err)
			}
			got, err := responseStub(tt.pdu, h)
			if !errors.Is(err, tt.err) {
				t.Fatalf("responseStub(%x) error = %v; want %v", tt.pdu, err, tt.err)
			}
			if err == nil && !bytes.Equal(got, tt.want) {
				t.Errorf("responseStub(%x) = %x; want %x", tt.pdu, got, tt.want)
			}
		})
	}
}

func TestDecodeFault(t *testing.T) {
	tests := []struct {
		status uint32
		want   string
	}{
		{0x1c010003, "DCE/RPC fault: status 0x1c010003 (nca_s_unk_if)"},
		{5, "DCE/RPC fault: status 0x00000005 (access denied)"},
		{0xdeadbeef, "DCE/RPC fault: status 0xdeadbeef"},
	}
	for _, tt := range tests {
		err := decodeFault(faultPDU(2, tt.status))
		if !errors.Is(err, ErrFault) || err.Error() != tt.want {
			t.Errorf("decodeFault(status 0x%x) = %v; want %q", tt.status, err, tt.want)
		}
	}
	if err := decodeFault(faultPDU(2, 5)[:27]); !errors.Is(err, ErrMalformed) {
		t.Errorf("decodeFault(27 bytes) = %v; want ErrMalformed", err)
	}
}

func TestDecodeLookupResponse(t *testing.T) {
	golden := unhexString(t, goldenStub)
	twoEntries := func(edit func(b []byte)) []byte {
		b := bytes.Clone(golden)
		edit(b)
		return b
	}
	tests := []struct {
		name  string
		stub  []byte
		limit int
		want  lookupResponse
		err   error
		msg   string
	}{
		{"empty, not registered", encodeLookupResponse(lookupResponse{Status: statusNotRegistered}), 10000,
			lookupResponse{Entries: []Entry{}, Status: statusNotRegistered}, nil, ""},
		{"null tower", encodeLookupResponse(lookupResponse{Entries: []Entry{{Object: "12345678-1234-abcd-ef00-0123456789ab", Annotation: "x"}}}), 10000,
			lookupResponse{Entries: []Entry{{Object: "12345678-1234-abcd-ef00-0123456789ab", Annotation: "x"}}}, nil, ""},
		{"shared tower", sharedTowerStub(t), 10000,
			lookupResponse{Entries: []Entry{goldenEntries[0], func() Entry { e := goldenEntries[0]; e.Annotation = "twin"; return e }()}}, nil, ""},
		{"over the limit", golden, 1, lookupResponse{}, ErrLimit, "a reply with 2 entries, 1 allowed"},
		{"a million entries", twoEntries(func(b []byte) {
			le.PutUint32(b[20:], 1_000_000)
			le.PutUint32(b[24:], 1_000_000)
			le.PutUint32(b[32:], 1_000_000)
		}), 10000, lookupResponse{}, ErrLimit, "1000000 entries"},
		{"more than asked for", twoEntries(func(b []byte) {
			le.PutUint32(b[20:], 501)
			le.PutUint32(b[24:], 600)
			le.PutUint32(b[32:], 501)
		}), 10000, lookupResponse{}, ErrMalformed, "more than the 500 asked for"},
		{"count cannot fit", twoEntries(func(b []byte) {
			le.PutUint32(b[20:], 400)
			le.PutUint32(b[32:], 400)
		}), 10000, lookupResponse{}, ErrMalformed, "cannot fit"},
		{"num_ents disagrees", twoEntries(func(b []byte) { le.PutUint32(b[20:], 3) }), 10000, lookupResponse{}, ErrMalformed, "num_ents 3"},
		{"array offset", twoEntries(func(b []byte) { le.PutUint32(b[28:], 1) }), 10000, lookupResponse{}, ErrMalformed, "offset 1"},
		{"annotation too long", twoEntries(func(b []byte) { le.PutUint32(b[60:], 5000) }), 10000, lookupResponse{}, ErrMalformed, "annotation of 5000 bytes"},
		{"annotation offset", twoEntries(func(b []byte) { le.PutUint32(b[56:], 2) }), 10000, lookupResponse{}, ErrMalformed, "annotation offset 2"},
		{"tower longer than the stub", twoEntries(func(b []byte) { le.PutUint32(b[136:], 0xffffffff); le.PutUint32(b[140:], 0xfffffff0) }), 10000, lookupResponse{}, ErrMalformed, "tower of 4294967280 bytes"},
		{"tower_length over max_count", twoEntries(func(b []byte) { le.PutUint32(b[136:], 10) }), 10000, lookupResponse{}, ErrMalformed, "over max_count"},
		{"truncated tower floors", twoEntries(func(b []byte) { le.PutUint16(b[144:], 9) }), 10000, lookupResponse{}, ErrMalformed, "entry 0: floor 6"},
		{"no status", golden[:len(golden)-4], 10000, lookupResponse{}, ErrMalformed, "status"},
		{"truncated handle", golden[:19], 10000, lookupResponse{}, ErrMalformed, "entry_handle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeLookupResponse(tt.stub, tt.limit)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(fmtErr(err), tt.msg) {
					t.Fatalf("decodeLookupResponse() = %v; want %v containing %q", err, tt.err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeLookupResponse() = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeLookupResponse() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// sharedTowerStub is a reply whose two entries share one tower through the
// same full-pointer referent id; the tower is marshalled once.
func sharedTowerStub(t *testing.T) []byte {
	t.Helper()
	e := goldenEntries[0]
	b := make([]byte, handleLen)
	b = le.AppendUint32(b, 2)
	b = le.AppendUint32(b, maxEnts)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 2)
	for _, ann := range []string{e.Annotation, "twin"} {
		b = pad4(b)
		b = append(b, make([]byte, 16)...)
		b = le.AppendUint32(b, 0x00020000)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, uint32(len(ann)+1))
		b = append(b, cstr(ann)...)
	}
	tw := encodeTower(e)
	b = pad4(b)
	b = le.AppendUint32(b, uint32(len(tw)))
	b = le.AppendUint32(b, uint32(len(tw)))
	b = append(b, tw...)
	b = pad4(b)
	return le.AppendUint32(b, 0)
}

func TestCleanString(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", ""},
		{"\x00", ""},
		{"samr\x00", "samr"},
		{"a\x00b", "a"},
		{`\PIPE\lsass` + "\x00", `\PIPE\lsass`},
		{"\x1b[31mred\x00", "\uFFFD[31mred"},
		{"caf\xc3\xa9", "café"},
		{"bad\xff", "bad\uFFFD"},
		{"del\x7f", "del\uFFFD"},
	}
	for _, tt := range tests {
		if got := cleanString([]byte(tt.in)); got != tt.want {
			t.Errorf("cleanString(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
