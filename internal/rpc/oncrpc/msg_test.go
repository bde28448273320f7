package oncrpc

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAppendCallGolden compares the DUMP call with bytes written by hand
// from RFC 5531 §9 (call_body) and RFC 1833 (program 100000, procedure 4).
func TestAppendCallGolden(t *testing.T) {
	want := []byte{
		0x80, 0x00, 0x00, 0x28, // record mark: last fragment, 40 bytes
		0x12, 0x34, 0x56, 0x78, // xid
		0x00, 0x00, 0x00, 0x00, // msg_type CALL
		0x00, 0x00, 0x00, 0x02, // rpcvers 2
		0x00, 0x01, 0x86, 0xa0, // prog 100000
		0x00, 0x00, 0x00, 0x04, // vers 4
		0x00, 0x00, 0x00, 0x04, // proc 4: RPCBPROC_DUMP
		0x00, 0x00, 0x00, 0x00, // cred flavor AUTH_NONE
		0x00, 0x00, 0x00, 0x00, // cred body, empty
		0x00, 0x00, 0x00, 0x00, // verf flavor AUTH_NONE
		0x00, 0x00, 0x00, 0x00, // verf body, empty
	}
	got := appendRecord(nil, appendCall(nil, 0x12345678, 100000, 4, 4))
	if !bytes.Equal(got, want) {
		t.Errorf("appendRecord(appendCall(0x12345678, 100000, 4, 4)) =\n% x; want\n% x", got, want)
	}
	xid, prog, vers, proc, ok := parseCall(got[4:])
	if !ok || xid != 0x12345678 || prog != 100000 || vers != 4 || proc != 4 {
		t.Errorf("parseCall = %#x %d %d %d %v; want 0x12345678 100000 4 4 true", xid, prog, vers, proc, ok)
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want reply
	}{
		{
			name: "SUCCESS, empty list",
			wire: []byte{
				0xca, 0xfe, 0xba, 0xbe, // xid
				0, 0, 0, 1, // REPLY
				0, 0, 0, 0, // MSG_ACCEPTED
				0, 0, 0, 0, 0, 0, 0, 0, // verf AUTH_NONE, empty
				0, 0, 0, 0, // SUCCESS
				0, 0, 0, 0, // results: FALSE, the end of the list
			},
			want: reply{xid: 0xcafebabe, accept: success, results: []byte{0, 0, 0, 0}},
		},
		{
			name: "SUCCESS, verifier with a body",
			wire: []byte{
				0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0,
				0, 0, 0, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0, // AUTH_SYS, 5 bytes padded
				0, 0, 0, 0,
			},
			want: reply{xid: 7, accept: success, results: []byte{}},
		},
		{
			name: "PROG_MISMATCH",
			wire: []byte{0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 4},
			want: reply{xid: 8, accept: progMismatch, low: 2, high: 4},
		},
		{
			name: "PROC_UNAVAIL",
			wire: []byte{0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3},
			want: reply{xid: 9, accept: procUnavail},
		},
		{
			name: "PROG_UNAVAIL",
			wire: []byte{0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
			want: reply{xid: 9, accept: progUnavail},
		},
		{
			name: "SYSTEM_ERR",
			wire: []byte{0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5},
			want: reply{xid: 9, accept: systemErr},
		},
		{
			name: "denied RPC_MISMATCH",
			wire: []byte{0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3},
			want: reply{xid: 10, denied: true, reject: rejectRPCMismatch, low: 3, high: 3},
		},
		{
			name: "denied AUTH_ERROR AUTH_TOOWEAK",
			wire: []byte{0, 0, 0, 11, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5},
			want: reply{xid: 11, denied: true, reject: rejectAuthError, auth: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReply(tt.wire)
			if err != nil {
				t.Fatalf("parseReply(% x) = %v", tt.wire, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(reply{})); diff != "" {
				t.Errorf("parseReply (-want +got):\n%s", diff)
			}
			// And the test encoder writes what was read (AUTH_NONE only).
			if tt.name != "SUCCESS, verifier with a body" {
				if back := appendReply(nil, got); !bytes.Equal(back, tt.wire) {
					t.Errorf("appendReply(parseReply(% x)) = % x", tt.wire, back)
				}
			}
		})
	}
}

func TestParseReplyErrors(t *testing.T) {
	accepted := []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}
	tests := []struct {
		name string
		wire []byte
	}{
		{"empty", nil},
		{"xid only", []byte{0, 0, 0, 1}},
		{"a call (echo)", appendCall(nil, 1, 100000, 4, 4)},
		{"message type 7", []byte{0, 0, 0, 1, 0, 0, 0, 7}},
		{"reply_stat 2", []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}},
		{"reject_stat 5", []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5}},
		{"no verifier", accepted},
		{"verifier body over 400 bytes", append(append(bytes.Clone(accepted), 0, 0, 0, 1, 0, 0, 1, 0x91), make([]byte, 404)...)},
		{"verifier body cut", append(bytes.Clone(accepted), 0, 0, 0, 1, 0, 0, 0, 8, 1, 2)},
		{"no accept_stat", append(bytes.Clone(accepted), 0, 0, 0, 0, 0, 0, 0, 0)},
		{"PROG_MISMATCH without high", append(bytes.Clone(accepted), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2)},
		{"RPC_MISMATCH cut", []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2}},
		{"AUTH_ERROR cut", []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}},
		{"HTTP", []byte("HTTP/1.1 400 Bad Request\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReply(tt.wire)
			if !errors.Is(err, ErrNotRPC) {
				t.Errorf("parseReply(% x) = %+v, %v; want ErrNotRPC", tt.wire, got, err)
			}
		})
	}
}

func TestStatStrings(t *testing.T) {
	tests := []struct{ call, got, want string }{
		{"progMismatch.String()", progMismatch.String(), "PROG_MISMATCH"},
		{"acceptStat(99).String()", acceptStat(99).String(), "accept_stat 99"},
		{"authStatString(5)", authStatString(5), "AUTH_TOOWEAK"},
		{"authStatString(99)", authStatString(99), "auth_stat 99"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q; want %q", tt.call, tt.got, tt.want)
		}
	}
}
