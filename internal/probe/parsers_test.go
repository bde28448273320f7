package probe

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClean(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain text", 0, "plain text"},
		{"tab\there", 0, "tab here"},
		{"line\r\n", 0, `line\r\n`},
		{"\x1b[31mred\x1b[0m", 0, `\x1b[31mred\x1b[0m`},
		{"c1 \u009b2J", 0, `c1 \x9b2J`},
		{"bell\x07 del\x7f nul\x00", 0, `bell\x07 del\x7f nul\x00`},
		{"bidi \u202egnp.exe", 0, `bidi \u202egnp.exe`},
		{"zero\u200bwidth", 0, `zero\u200bwidth`},
		{"tag \U000e0041", 0, `tag \U000e0041`},
		{"bad \xff\xfe utf8", 0, `bad \xff\xfe utf8`},
		{"Grüße, 日本", 0, "Grüße, 日本"},
		{"abcdef", 3, "abc…"},
		{"abc", 3, "abc"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Clean([]byte(tt.in), tt.max); got != tt.want {
				t.Errorf("Clean(%q, %d) = %q; want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestClassifyBanner(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want banner
	}{
		{"openssh", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
			banner{service: ServiceSSH, product: "OpenSSH_9.2p1 Debian-2+deb12u3", line: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"}},
		{"ssh after other lines", "welcome\r\nSSH-1.99-Cisco-1.25\r\n",
			banner{service: ServiceSSH, product: "Cisco-1.25", line: "SSH-1.99-Cisco-1.25"}},
		{"ssh without software", "SSH-2.0\r\n", banner{service: ServiceBanner, line: "SSH-2.0"}},
		{"postfix", "220 mx.example.org ESMTP Postfix (Debian/GNU)\r\n",
			banner{service: ServiceSMTP, line: "220 mx.example.org ESMTP Postfix (Debian/GNU)"}},
		{"exchange", "220 EX01.corp.example Microsoft ESMTP MAIL Service ready at Mon, 1 Jan 2024\r\n",
			banner{service: ServiceSMTP, line: "220 EX01.corp.example Microsoft ESMTP MAIL Service ready at Mon, 1 Jan 2024"}},
		{"proftpd", "220 ProFTPD Server (Debian) [::ffff:127.0.0.1]\r\n",
			banner{service: ServiceFTP, line: "220 ProFTPD Server (Debian) [::ffff:127.0.0.1]"}},
		{"pure-ftpd multi-line", "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220-You are user number 1 of 50 allowed.\r\n220 This is a private system\r\n",
			banner{service: ServiceFTP, line: "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------"}},
		{"bare 220", "220 hello\r\n", banner{service: ServiceBanner, line: "220 hello", ambiguous: true}},
		{"2200 is not 220", "2200 hello\r\n", banner{service: ServiceBanner, line: "2200 hello"}},
		{"dovecot pop3", "+OK Dovecot (Debian) ready.\r\n", banner{service: ServicePOP3, line: "+OK Dovecot (Debian) ready."}},
		{"dovecot imap", "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
			banner{service: ServiceIMAP, line: "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready."}},
		{"imap preauth", "* PREAUTH ready\r\n", banner{service: ServiceIMAP, line: "* PREAUTH ready"}},
		{"vnc", "RFB 003.008\n", banner{service: ServiceVNC, product: "RFB 003.008", line: "RFB 003.008"}},
		{"telnet", "\xff\xfd\x18\xff\xfd\x20\xff\xfb\x01login: ",
			banner{service: ServiceTelnet, line: "login: "}},
		{"telnet negotiation only", "\xff\xfd\x18", banner{service: ServiceTelnet}},
		{"unknown", "hello there\n", banner{service: ServiceBanner, line: "hello there"}},
		{"binary", "\x00\x01\x02", banner{service: ServiceBanner, line: `\x00\x01\x02`}},
		{"escapes", "\x1b[2Jgotcha\r\n", banner{service: ServiceBanner, line: `\x1b[2Jgotcha`}},
		{"mariadb", string(mariadbHandshake), banner{service: ServiceMySQL, product: "MariaDB 10.11.19-MariaDB-0+deb12u1", mysql: &MySQLInfo{
			Protocol: 10, Version: "5.5.5-10.11.19-MariaDB-0+deb12u1", ConnectionID: 3,
			Capabilities: 0x81ff_f7fe, AuthPlugin: "mysql_native_password",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyBanner([]byte(tt.in))
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(banner{})); diff != "" {
				t.Errorf("classifyBanner(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestBannerComplete(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"SSH-2.0-OpenSSH_9.2p1", false},
		{"SSH-2.0-OpenSSH_9.2p1\r\n", true},
		{"220-first\r\n", false},
		{"220-first\r\n220 last\r\n", true},
		{"220-first\r\n220-second\r\n", false},
		{string(mariadbHandshake[:40]), false},
		{string(mariadbHandshake), true},
		{strings.Repeat("x", bannerMax), true},
	}
	for _, tt := range tests {
		if got := bannerComplete([]byte(tt.in)); got != tt.want {
			t.Errorf("bannerComplete(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestEHLOReply(t *testing.T) {
	tests := []struct {
		in       string
		wantCode int
		wantExts []string
	}{
		{"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-starttls\r\n250 8BITMIME\r\n", 250, []string{"PIPELINING", "SIZE", "STARTTLS", "8BITMIME"}},
		{"250 mx.example\r\n", 250, nil},
		{"502 5.5.2 Error: command not recognized\r\n", 502, nil},
		{"500 Unknown command.\r\n", 500, nil},
		{"hello\r\n", 0, nil},
		{"", 0, nil},
		{"250-cut", 250, nil},
	}
	for _, tt := range tests {
		code, exts := ehloReply([]byte(tt.in))
		if code != tt.wantCode || !cmp.Equal(exts, tt.wantExts) {
			t.Errorf("ehloReply(%q) = %d, %q; want %d, %q", tt.in, code, exts, tt.wantCode, tt.wantExts)
		}
	}
}

// mysqlPacket frames a payload as the server's first packet.
func mysqlPacket(payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), 0}, payload...)
}

func TestParseMySQL(t *testing.T) {
	// MySQL 8.0's handshake, built from the documented layout.
	mysql8 := []byte{10}
	mysql8 = append(mysql8, "8.0.36\x00"...)
	mysql8 = binary.LittleEndian.AppendUint32(mysql8, 42)
	mysql8 = append(mysql8, "abcdefgh\x00"...)
	mysql8 = binary.LittleEndian.AppendUint16(mysql8, 0xffff) // lower caps, CLIENT_SSL included
	mysql8 = append(mysql8, 0xff)                             // charset
	mysql8 = binary.LittleEndian.AppendUint16(mysql8, 2)      // status
	mysql8 = binary.LittleEndian.AppendUint16(mysql8, 0xdfff) // upper caps, CLIENT_PLUGIN_AUTH included
	mysql8 = append(mysql8, 21)
	mysql8 = append(mysql8, make([]byte, 10)...)
	mysql8 = append(mysql8, "ijklmnopqrst\x00"...)
	mysql8 = append(mysql8, "caching_sha2_password\x00"...)

	tests := []struct {
		name    string
		in      []byte
		want    *MySQLInfo
		product string
		err     error
	}{
		{"mariadb 10.11", mariadbHandshake, &MySQLInfo{Protocol: 10, Version: "5.5.5-10.11.19-MariaDB-0+deb12u1", ConnectionID: 3,
			Capabilities: 0x81fff7fe, AuthPlugin: "mysql_native_password"}, "MariaDB 10.11.19-MariaDB-0+deb12u1", nil},
		{"mysql 8", mysqlPacket(mysql8), &MySQLInfo{Protocol: 10, Version: "8.0.36", ConnectionID: 42, Capabilities: 0xdfffffff, TLS: true,
			AuthPlugin: "caching_sha2_password"}, "MySQL 8.0.36", nil},
		{"short handshake of 3.x", mysqlPacket(append([]byte("\x0a3.23.58\x00"), make([]byte, 15)...)),
			&MySQLInfo{Protocol: 10, Version: "3.23.58"}, "MySQL 3.23.58", nil},
		{"protocol 9", mysqlPacket([]byte("\x093.21.0\x00rest")), &MySQLInfo{Protocol: 9, Version: "3.21.0"}, "MySQL 3.21.0", nil},
		{"host not allowed", mysqlPacket([]byte("\xff\x6a\x04Host '10.0.0.5' is not allowed to connect to this MariaDB server")),
			&MySQLInfo{ErrorCode: 1130, Error: "Host '10.0.0.5' is not allowed to connect to this MariaDB server"}, "", nil},
		{"error with sql state", mysqlPacket([]byte("\xff\x10\x04#08004Too many connections")),
			&MySQLInfo{ErrorCode: 1040, Error: "Too many connections"}, "", nil},
		{"truncated", mariadbHandshake[:50], nil, "", io.ErrUnexpectedEOF},
		{"text", []byte("SSH-2.0-x\r\n"), nil, "", errNotMySQL},
		{"wrong sequence", append([]byte{5, 0, 0, 1}, "\x0a1.0\x00"...), nil, "", errNotMySQL},
		{"version not text", mysqlPacket([]byte("\x0a\x01\x02\x00")), nil, "", errNotMySQL},
		{"version without NUL", mysqlPacket([]byte("\x0a8.0.36")), nil, "", errNotMySQL},
		{"ends after version", mysqlPacket([]byte("\x0a8.0.36\x00\x01\x02")), nil, "", errNotMySQL},
		{"empty", nil, nil, "", errNotMySQL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMySQL(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("parseMySQL() error = %v; want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseMySQL() (-want +got):\n%s", diff)
			}
			if got != nil && got.Product() != tt.product {
				t.Errorf("Product() = %q; want %q", got.Product(), tt.product)
			}
		})
	}
}

func TestExtractTitle(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"<html><head><title>Welcome to nginx!</title></head>", "Welcome to nginx!"},
		{"<TITLE>Upper</TITLE>", "Upper"},
		{"<title lang=\"en\">\n  Spread\n  over   lines\t</title>", "Spread over lines"},
		{"<title>Fish &amp; Chips &lt;3 &#233;t&eacute;</title>", "Fish & Chips <3 été"},
		{"<titles>no</titles><title>yes</title>", "yes"},
		{"<title>first</title><title>second</title>", "first"},
		{"<title>cut off at the end", "cut off at the end"},
		{"<title", ""},
		{"<title attr", ""},
		{"<title></title>", ""},
		{"no title here", ""},
		{"<title>\x1b[31mred\x1b[0m</title>", `\x1b[31mred\x1b[0m`},
		{"<title>&#27;[2J</title>", `\x1b[2J`},
		{"<title>" + strings.Repeat("long ", 100) + "</title>", strings.TrimSpace(strings.Repeat("long ", 40)) + "…"},
		{"<svg><title>icon</title></svg><title>page</title>", "icon"},
	}
	for _, tt := range tests {
		if got := extractTitle([]byte(tt.in)); got != tt.want {
			t.Errorf("extractTitle(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// pgMessage frames a backend message.
func pgMessage(typ byte, body string) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(body)))
	return append(b, body...)
}

func TestParsePostgres(t *testing.T) {
	u32 := func(n uint32) string { return string(binary.BigEndian.AppendUint32(nil, n)) }
	tests := []struct {
		name string
		in   []byte
		want PostgresInfo
		ok   bool // authOK
		err  error
	}{
		{"trust", pgTrust, PostgresInfo{Auth: "trust", Version: "15.18 (Debian 15.18-0+deb12u1)"}, true, nil},
		{"no such role", pgNoRole, PostgresInfo{Auth: "trust", Error: `FATAL 28000: role "nosuch" does not exist`}, true, nil},
		{"scram", pgMessage('R', u32(10)+"SCRAM-SHA-256\x00SCRAM-SHA-256-PLUS\x00\x00"),
			PostgresInfo{Auth: "sasl", Mechanisms: []string{"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}}, false, nil},
		{"md5", pgMessage('R', u32(5)+"salt"), PostgresInfo{Auth: "md5"}, false, nil},
		{"cleartext", pgMessage('R', u32(3)), PostgresInfo{Auth: "password"}, false, nil},
		{"gss", pgMessage('R', u32(7)), PostgresInfo{Auth: "gss"}, false, nil},
		{"hba reject", pgMessage('E', "SFATAL\x00VFATAL\x00C28000\x00Mno pg_hba.conf entry for host \"10.0.0.9\", user \"postgres\", database \"postgres\", no encryption\x00\x00"),
			PostgresInfo{Error: `FATAL 28000: no pg_hba.conf entry for host "10.0.0.9", user "postgres", database "postgres", no encryption`}, false, nil},
		{"old server error without V", pgMessage('E', "SFATAL\x00Munsupported frontend protocol\x00\x00"),
			PostgresInfo{Error: "FATAL: unsupported frontend protocol"}, false, nil},
		{"protocol negotiation first", append(pgMessage('v', u32(0)+u32(0)), pgMessage('R', u32(5)+"salt")...), PostgresInfo{Auth: "md5"}, false, nil},
		{"cut inside a message", pgTrust[:20], PostgresInfo{Auth: "trust"}, true, io.ErrUnexpectedEOF},
		{"cut before ReadyForQuery", pgTrust[:len(pgTrust)-6], PostgresInfo{Auth: "trust", Version: "15.18 (Debian 15.18-0+deb12u1)"}, true, io.ErrUnexpectedEOF},
		{"empty", nil, PostgresInfo{}, false, io.ErrUnexpectedEOF},
		{"HTTP", []byte("HTTP/1.1 400 Bad Request\r\n"), PostgresInfo{}, false, errNotPostgres},
		{"huge length", []byte("R\x7f\xff\xff\xff"), PostgresInfo{}, false, errNotPostgres},
		{"unknown auth", pgMessage('R', u32(99)), PostgresInfo{}, false, errNotPostgres},
		{"short auth", pgMessage('R', "ab"), PostgresInfo{}, false, errNotPostgres},
		// Fuzz crasher 903487e1b55d4f31: an ErrorResponse whose fields
		// hold no message decoded as a PostgreSQL answer saying nothing.
		{"error without a message", []byte("E\x00\x00\x00 0000000000000000000000000000"), PostgresInfo{}, false, errNotPostgres},
		// Fuzz crasher 29149a9f4955b510: a mechanism name of binary
		// bytes, whose escaped form outgrew its cap.
		{"binary SASL mechanism", []byte("R\x00\x00\x00,\x00\x00\x00\n000000000000000000000\xb4\xb4\xb4\xb4\xb4\xb4\xb4\xb4\xb4\xb40000\x00"),
			PostgresInfo{Auth: "sasl"}, false, errNotPostgres},
		{"unknown message after auth ok", append(pgMessage('R', u32(0)), pgMessage('Q', "x")...), PostgresInfo{Auth: "trust"}, true, errNotPostgres},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parsePostgres(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("parsePostgres() error = %v; want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, r.info); diff != "" {
				t.Errorf("parsePostgres() (-want +got):\n%s", diff)
			}
			if r.authOK != tt.ok {
				t.Errorf("parsePostgres().authOK = %v; want %v", r.authOK, tt.ok)
			}
		})
	}
}

func TestStartupMessage(t *testing.T) {
	b := startupMessage()
	if n := binary.BigEndian.Uint32(b); int(n) != len(b) {
		t.Errorf("StartupMessage length field = %d; want %d", n, len(b))
	}
	if v := binary.BigEndian.Uint32(b[4:]); v != 3<<16 {
		t.Errorf("StartupMessage protocol = %#x; want 3.0", v)
	}
	if !strings.HasSuffix(string(b), "user\x00postgres\x00database\x00postgres\x00application_name\x00whobinds-probe\x00\x00") {
		t.Errorf("StartupMessage parameters = %q", b[8:])
	}
}

func TestPGSSLAnswer(t *testing.T) {
	tests := []struct {
		in      string
		ssl, ok bool
	}{{"S", true, true}, {"N", false, true}, {"E", false, false}, {"NO", false, false}, {"", false, false}}
	for _, tt := range tests {
		if ssl, ok := pgSSLAnswer([]byte(tt.in)); ssl != tt.ssl || ok != tt.ok {
			t.Errorf("pgSSLAnswer(%q) = %v, %v; want %v, %v", tt.in, ssl, ok, tt.ssl, tt.ok)
		}
	}
}

func TestParseBindReply(t *testing.T) {
	nak := unhex("05000d03100000001200000001000000" + "0400")
	fault := unhex("05000303100000001c00000001000000" + "00000000" + "0000" + "00" + "00" + "0300011c")
	// A bind_ack that does not accept the endpoint mapper, as a server
	// that serves other interfaces on the port sends it.
	reject := unhex("05000c03100000003c00000001000000b810b810556d000006003439363638000100000002000100045d888aeb1cc9119fe808002b10486002000000")
	tests := []struct {
		name string
		in   []byte
		want *DCERPCInfo
		err  error
	}{
		{"samba accepts", sambaBindAck, &DCERPCInfo{Reply: "bind_ack", Accepted: true, SecondaryAddr: "135", MaxXmit: 4280, MaxRecv: 4280, Interfaces: []string{}}, nil},
		{"abstract syntax not supported", reject, &DCERPCInfo{Reply: "bind_ack", Reason: "provider rejection: abstract syntax not supported",
			SecondaryAddr: "49668", MaxXmit: 4280, MaxRecv: 4280, Interfaces: []string{}}, nil},
		{"bind_nak", nak, &DCERPCInfo{Reply: "bind_nak", Reason: "protocol version not supported", Interfaces: []string{}}, nil},
		{"fault", fault, &DCERPCInfo{Reply: "fault", Reason: "fault status 0x1c010003", Interfaces: []string{}}, nil},
		{"truncated", sambaBindAck[:30], nil, io.ErrUnexpectedEOF},
		{"header only", sambaBindAck[:10], nil, io.ErrUnexpectedEOF},
		{"HTTP", []byte("HTTP/1.1 400 Bad Request\r\n"), nil, errNotDCERPC},
		{"frag_length below header", unhex("05000c03100000000800000001000000"), nil, errNotDCERPC},
		{"secondary address past the end", unhex("05000c03100000001a00000001000000b810b810556d0000ff00"), nil, errNotDCERPC},
		{"no result", unhex("05000c03100000002000000001000000b810b810556d00000000000000000000"), nil, errNotDCERPC},
		{"request type", unhex("05000003100000001800000001000000" + "0000000000000000"), nil, errNotDCERPC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBindReply(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("parseBindReply() error = %v; want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseBindReply() (-want +got):\n%s", diff)
			}
		})
	}
	if len(dceBind) != 72 || dceBind[2] != 11 || binary.LittleEndian.Uint16(dceBind[8:]) != 72 {
		t.Errorf("dceBind = %x; want the 72-byte bind of windows.md 5.4", dceBind)
	}
}

func TestRedisReplies(t *testing.T) {
	pings := []struct {
		in   string
		auth string
		ok   bool
	}{
		{"+PONG\r\n", "none", true},
		{"-NOAUTH Authentication required.\r\n", "required", true},
		{"-DENIED Redis is running in protected mode because protected mode is enabled\r\n", "protected-mode", true},
		{"-ERR unknown command\r\n", "", false},
		{"+PONGS\r\n", "", false},
		{"", "", false},
	}
	for _, tt := range pings {
		if auth, ok := parseRedisPing([]byte(tt.in)); auth != tt.auth || ok != tt.ok {
			t.Errorf("parseRedisPing(%q) = %q, %v; want %q, %v", tt.in, auth, ok, tt.auth, tt.ok)
		}
	}
	info := "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\nos:Linux\r\n"
	valkey := "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\nserver_mode:standalone\r\n"
	infos := []struct {
		in                  string
		name, version, mode string
	}{
		{"$" + strconv.Itoa(len(info)) + "\r\n" + info + "\r\n", "Redis", "7.0.15", "standalone"},
		{"$" + strconv.Itoa(len(valkey)) + "\r\n" + valkey + "\r\n", "Valkey", "8.0.1", "standalone"},
		{"$9999\r\n# Server\r\nredis_version:6.0.1", "Redis", "6.0.1", ""},
		{"-NOPERM this user has no permissions\r\n", "", "", ""},
		{"$x\r\nredis_version:1\r\n", "", "", ""},
		{"", "", "", ""},
	}
	for _, tt := range infos {
		name, version, mode := parseRedisInfo([]byte(tt.in))
		if name != tt.name || version != tt.version || mode != tt.mode {
			t.Errorf("parseRedisInfo(%q) = %q, %q, %q; want %q, %q, %q", tt.in, name, version, mode, tt.name, tt.version, tt.mode)
		}
	}
}

func TestQuestionOrder(t *testing.T) {
	tests := []struct {
		port uint16
		want []string
	}{
		{80, []string{qTLS, qHTTP, qRedis, qPostgres, qDCERPC}},
		{6379, []string{qRedis, qTLS, qHTTP, qPostgres, qDCERPC}},
		{5432, []string{qPostgres, qTLS, qHTTP, qRedis, qDCERPC}},
		{135, []string{qDCERPC, qTLS, qHTTP, qRedis, qPostgres}},
	}
	for _, tt := range tests {
		if got := questions(tt.port); !cmp.Equal(got, tt.want) {
			t.Errorf("questions(%d) = %q; want %q", tt.port, got, tt.want)
		}
	}
	hints := []struct {
		reply, want string
	}{
		{"HTTP/1.0 400 Bad Request", qHTTP},
		{"-ERR wrong number of arguments", qRedis},
		{"\x15\x03\x03\x00\x02", qTLS},
		{"\x05\x00\x0d\x03", qDCERPC},
		{"E\x00\x00\x00\x10", qPostgres},
		{"hello", ""},
		{"", ""},
	}
	for _, tt := range hints {
		if got := hint([]byte(tt.reply)); got != tt.want {
			t.Errorf("hint(%q) = %q; want %q", tt.reply, got, tt.want)
		}
	}
}
