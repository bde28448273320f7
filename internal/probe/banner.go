package probe

// This file classifies what a server says before it is asked anything.

import (
	"bytes"
	"strings"
)

// bannerMax is the most bytes of an unasked greeting that are read and
// classified; greetings are one or a few lines, a MySQL handshake about
// a hundred bytes.
const bannerMax = 4096

// bannerText is how many runes of a greeting a Result keeps.
const bannerText = 256

// banner is a classified greeting.
type banner struct {
	// service is one of the Service constants; ServiceBanner when the
	// greeting is not recognized.
	service string
	// product is the software the greeting names (SSH, MySQL, VNC).
	product string
	// line is the greeting's first line, cleaned; for a MySQL handshake
	// it is empty (the handshake is binary).
	line string
	// mysql is the decoded handshake or error packet.
	mysql *MySQLInfo
	// ambiguous is true for a bare "220" greeting that SMTP and FTP
	// servers both send; EHLO tells them apart.
	ambiguous bool
}

// classifyBanner names the service that sent b unasked.
func classifyBanner(b []byte) banner {
	if m, err := parseMySQL(b); err == nil {
		return banner{service: ServiceMySQL, product: m.Product(), mysql: m}
	}
	line := firstLine(b)
	bn := banner{service: ServiceBanner, line: Clean(line, bannerText)}
	switch {
	case len(b) >= 2 && b[0] == iac && b[1] >= will && b[1] <= dont:
		// Telnet option negotiation: IAC WILL/WONT/DO/DONT.
		bn.service = ServiceTelnet
		bn.line = Clean(firstLine(skipTelnet(b)), bannerText)
	case bytes.HasPrefix(line, []byte("RFB ")):
		bn.service, bn.product = ServiceVNC, bn.line
	case bytes.HasPrefix(line, []byte("+OK")):
		bn.service = ServicePOP3
	case bytes.HasPrefix(line, []byte("* OK")), bytes.HasPrefix(line, []byte("* PREAUTH")), bytes.HasPrefix(line, []byte("* BYE")):
		bn.service = ServiceIMAP
	case bytes.HasPrefix(line, []byte("220")) && (len(line) == 3 || line[3] == ' ' || line[3] == '-'):
		// SMTP (RFC 5321 4.2) and FTP (RFC 959 4.2) both greet with 220;
		// most servers name their protocol in the rest of the lines.
		text := strings.ToLower(string(b))
		switch {
		case strings.Contains(text, "ftp"):
			bn.service = ServiceFTP
		case strings.Contains(text, "smtp"), strings.Contains(text, "mail service"):
			bn.service = ServiceSMTP
		default:
			bn.ambiguous = true
		}
	default:
		if v, ok := sshVersion(b); ok {
			bn.service, bn.product = ServiceSSH, v
			bn.line = Clean(sshLine(b), bannerText)
		}
	}
	return bn
}

// Telnet commands (RFC 854).
const (
	iac  = 255
	will = 251
	dont = 254
)

// skipTelnet drops the option negotiation at the start of b.
func skipTelnet(b []byte) []byte {
	for len(b) >= 3 && b[0] == iac && b[1] >= will && b[1] <= dont {
		b = b[3:]
	}
	if len(b) >= 2 && b[0] == iac {
		return nil
	}
	return b
}

// sshLine is the identification line of an SSH server: RFC 4253 4.2 lets
// it send other lines first.
func sshLine(b []byte) []byte {
	for len(b) > 0 {
		l := firstLine(b)
		if bytes.HasPrefix(l, []byte("SSH-")) {
			return l
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		b = b[i+1:]
	}
	return nil
}

// sshVersion returns the softwareversion and comments of an SSH
// identification line "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3".
func sshVersion(b []byte) (string, bool) {
	l := sshLine(b)
	if l == nil {
		return "", false
	}
	proto, soft, ok := bytes.Cut(l[len("SSH-"):], []byte("-"))
	if !ok || len(proto) == 0 {
		return "", false
	}
	return Clean(soft, bannerText), true
}

// bannerComplete tells whether b holds a whole greeting, so that reading
// can stop before the wait for more runs out: a whole MySQL packet, or
// text ending in a line that is not a "220-" continuation.
func bannerComplete(b []byte) bool {
	if len(b) >= bannerMax {
		return true
	}
	if n, ok := mysqlPacketLen(b); ok {
		return len(b) >= n
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return false
	}
	last := b[:len(b)-1]
	if i := bytes.LastIndexByte(last, '\n'); i >= 0 {
		last = last[i+1:]
	}
	// Multi-line SMTP and FTP replies: "220-text" continues, "220 text"
	// ends.
	if len(last) >= 4 && isDigit(last[0]) && isDigit(last[1]) && isDigit(last[2]) && last[3] == '-' {
		return false
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// replyCode is the three-digit code of an SMTP or FTP reply line, 0 when
// the line does not start with one.
func replyCode(line []byte) int {
	if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) {
		return 0
	}
	if len(line) > 3 && line[3] != ' ' && line[3] != '-' {
		return 0
	}
	return int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
}

// ehloReply reads a reply to EHLO: the code of its last line and the
// extension keywords it lists (RFC 5321 4.1.1.1), at most 32.
func ehloReply(b []byte) (code int, exts []string) {
	first := true
	for len(b) > 0 {
		l := firstLine(b)
		c := replyCode(l)
		if c == 0 {
			break
		}
		code = c
		if !first && len(l) > 4 && len(exts) < 32 {
			if f := strings.Fields(Clean(l[4:], 64)); len(f) > 0 {
				exts = append(exts, strings.ToUpper(f[0]))
			}
		}
		first = false
		i := bytes.IndexByte(b, '\n')
		if i < 0 || len(l) < 4 || l[3] == ' ' {
			break
		}
		b = b[i+1:]
	}
	return code, exts
}
