package probe

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// checkClean fails when s holds anything Clean lets through that a
// terminal would act on.
func checkClean(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("%s = %q is not UTF-8", what, s)
	}
	for _, r := range s {
		if r != ' ' && !unicode.IsPrint(r) {
			t.Fatalf("%s = %q holds %U", what, s, r)
		}
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[2J", "\u202e\u200b", "\xff\xfe", "日本語", "\t\r\n"} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		max %= 1000
		s := Clean(b, max)
		checkClean(t, "Clean()", s)
		if max > 0 && utf8.RuneCount(b) <= max && strings.HasSuffix(s, "…") && !bytes.HasSuffix(b, []byte("…")) {
			t.Fatalf("Clean(%q, %d) = %q: cut though the input fits", b, max, s)
		}
	})
}

// FuzzClassifyBanner checks that greetings never panic the classifier and
// that everything it keeps is clean.
func FuzzClassifyBanner(f *testing.F) {
	for _, s := range []string{
		"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "220 mail ESMTP\r\n", "220-ftp\r\n220 x\r\n",
		"+OK\r\n", "* OK\r\n", "RFB 003.008\n", "\xff\xfd\x18\xff\xfb\x01login: ", "\x1b[2J",
		string(mariadbHandshake), "250-x\r\n250-STARTTLS\r\n250 SIZE\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		bn := classifyBanner(b)
		checkClean(t, "line", bn.line)
		checkClean(t, "product", bn.product)
		if bn.mysql != nil {
			checkClean(t, "mysql version", bn.mysql.Version)
			checkClean(t, "mysql error", bn.mysql.Error)
		}
		bannerComplete(b)
		_, exts := ehloReply(b)
		for _, e := range exts {
			checkClean(t, "extension", e)
		}
	})
}

// encodeMySQL is the inverse of parseMySQL, for the round trip.
func encodeMySQL(m *MySQLInfo) []byte {
	var p []byte
	switch {
	case m.Protocol == 0:
		p = append([]byte{0xff}, byte(m.ErrorCode), byte(m.ErrorCode>>8))
		p = append(p, "#HY000"+m.Error...)
	case m.Protocol == 9:
		p = append([]byte{9}, m.Version+"\x00"...)
	default:
		p = append([]byte{10}, m.Version+"\x00"...)
		p = binary.LittleEndian.AppendUint32(p, m.ConnectionID)
		p = append(p, "12345678\x00"...)
		p = binary.LittleEndian.AppendUint16(p, uint16(m.Capabilities))
		p = append(p, 8, 2, 0)
		p = binary.LittleEndian.AppendUint16(p, uint16(m.Capabilities>>16))
		p = append(p, 21)
		p = append(p, make([]byte, 10)...)
		p = append(p, "abcdefghijkl\x00"...)
		if m.AuthPlugin != "" {
			p = append(p, m.AuthPlugin+"\x00"...)
		}
	}
	return mysqlPacket(p)
}

// FuzzMySQL checks that the handshake decoder never panics and that what
// it accepts survives decode → encode → decode.
func FuzzMySQL(f *testing.F) {
	f.Add(mariadbHandshake)
	f.Add(mysqlPacket([]byte("\xff\x6a\x04Host 'x' is not allowed")))
	f.Add(mysqlPacket([]byte("\x093.21.0\x00")))
	f.Add(mysqlPacket(append([]byte("\x0a3.23.58\x00"), make([]byte, 15)...)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMySQL(b)
		if err != nil {
			return
		}
		checkClean(t, "version", m.Version)
		checkClean(t, "error", m.Error)
		checkClean(t, "auth plugin", m.AuthPlugin)
		if strings.Contains(m.Error+m.AuthPlugin, "…") {
			return // cut: the text does not come back whole
		}
		again, err := parseMySQL(encodeMySQL(m))
		if err != nil {
			t.Fatalf("parseMySQL(encodeMySQL(%+v)) = %v", m, err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzExtractTitle(f *testing.F) {
	for _, s := range []string{
		"<title>x</title>", "<TITLE lang=en>a &amp; b</TITLE>", "<title>cut", "<titles><title>y</title>",
		"<title>&#27;[2J</title>", "<title>\x1b]0;x\x07</title>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := extractTitle(b)
		checkClean(t, "title", s)
		if s != "" && indexTag(b, "<title") < 0 {
			t.Fatalf("extractTitle(%q) = %q without a <title> tag", b, s)
		}
	})
}

// encodePostgres is a canonical answer that decodes to r.
func encodePostgres(r pgReply) []byte {
	u32 := func(n uint32) string { return string(binary.BigEndian.AppendUint32(nil, n)) }
	codes := map[string]uint32{"kerberos": 2, "password": 3, "md5": 5, "gss": 7, "sspi": 9, "sasl": 10}
	var b []byte
	switch {
	case r.authOK:
		b = pgMessage('R', u32(0))
		if r.info.Version != "" {
			b = append(b, pgMessage('S', "server_version\x00"+r.info.Version+"\x00")...)
		}
	case r.info.Auth != "":
		body := u32(codes[r.info.Auth])
		for _, m := range r.info.Mechanisms {
			body += m + "\x00"
		}
		if r.info.Auth == "sasl" {
			body += "\x00"
		}
		return pgMessage('R', body)
	}
	if r.info.Error != "" {
		return append(b, pgMessage('E', "M"+r.info.Error+"\x00\x00")...)
	}
	return append(b, pgMessage('Z', "I")...)
}

// FuzzPostgres checks that the decoder of StartupMessage answers never
// panics and that a complete answer survives decode → encode → decode.
func FuzzPostgres(f *testing.F) {
	f.Add(pgTrust)
	f.Add(pgNoRole)
	f.Add(pgMessage('R', "\x00\x00\x00\x0aSCRAM-SHA-256\x00\x00"))
	f.Add(pgMessage('E', "SFATAL\x00C28000\x00Mno\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parsePostgres(b)
		if err != nil {
			return
		}
		checkClean(t, "version", r.info.Version)
		checkClean(t, "error", r.info.Error)
		for _, m := range r.info.Mechanisms {
			checkClean(t, "mechanism", m)
		}
		all := r.info.Version + r.info.Error + strings.Join(r.info.Mechanisms, "")
		if strings.ContainsAny(all, "…\\") || utf8.RuneCountInString(r.info.Error) > bannerText || len(r.info.Mechanisms) == 8 {
			// Cut, or with escapes that may outgrow the cap on the
			// second pass: the text does not come back whole.
			return
		}
		again, err := parsePostgres(encodePostgres(r))
		if err != nil {
			t.Fatalf("parsePostgres(encodePostgres(%+v)) = %v", r, err)
		}
		if diff := cmp.Diff(r, again, cmp.AllowUnexported(pgReply{})); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzBindReply checks that the bind answer decoder never panics, never
// reads past the PDU's frag_length, and keeps its text clean.
func FuzzBindReply(f *testing.F) {
	f.Add(sambaBindAck)
	f.Add(unhex("05000d031000000012000000010000000400"))
	f.Add(unhex("05000303100000001c00000001000000000000000000000003000100"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseBindReply(b)
		if err != nil {
			return
		}
		checkClean(t, "secondary address", d.SecondaryAddr)
		switch d.Reply {
		case "bind_ack", "bind_nak", "fault":
		default:
			t.Fatalf("Reply = %q", d.Reply)
		}
		if d.Accepted && d.Reply != "bind_ack" {
			t.Fatalf("accepted by a %s", d.Reply)
		}
		// Bytes after the PDU change nothing.
		more, err := parseBindReply(append(bytes.Clone(b), "trailing junk"...))
		if err != nil {
			t.Fatalf("with trailing bytes: %v", err)
		}
		if diff := cmp.Diff(d, more); diff != "" {
			t.Fatalf("trailing bytes changed the result (-without +with):\n%s", diff)
		}
	})
}

func FuzzRedis(f *testing.F) {
	f.Add([]byte("+PONG\r\n"))
	f.Add([]byte("$40\r\n# Server\r\nredis_version:7.0.15\r\nredis_mode:x\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseRedisPing(b)
		bulkComplete(b)
		name, version, mode := parseRedisInfo(b)
		for _, s := range []string{name, version, mode} {
			checkClean(t, "info", s)
		}
	})
}
