package probe

// This file holds the questions: waiting for a greeting, and one function
// per protocol asked of a silent server. Each returns whether the server
// was identified and, when it was not, the start of whatever it answered.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/whobinds/whobinds/internal/rpc/dcerpc"
)

// readGreeting waits opt.Wait for the server to speak first. Once it
// has, the rest of the greeting gets half that long.
func (p *prober) readGreeting(ctx context.Context, c net.Conn) ([]byte, error) {
	p.arm(ctx, c)
	b, err := readMore(c, make([]byte, 0, 512), bannerMax, some)
	if len(b) == 0 {
		return nil, err
	}
	d := time.Now().Add(p.opt.Wait / 2)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	c.SetDeadline(d)
	b, _ = readMore(c, b, bannerMax, bannerComplete)
	return b, nil
}

// greeting records what a server said unasked on c ("" or " in tls"
// after the question names) and, for SMTP or a bare 220, asks EHLO.
func (p *prober) greeting(ctx context.Context, c net.Conn, b []byte, in string) {
	bn := classifyBanner(b)
	p.res.Service, p.res.Product, p.res.Banner, p.res.MySQL = bn.service, bn.product, bn.line, bn.mysql
	p.tried(qBanner+in, "identified")
	if bn.service != ServiceSMTP && !bn.ambiguous {
		return
	}
	p.arm(ctx, c)
	if _, err := c.Write([]byte("EHLO whobinds.invalid\r\n")); err != nil {
		p.tried(qEHLO+in, p.outcome(err))
		return
	}
	r, err := readMore(c, nil, bannerMax, bannerComplete)
	code, exts := ehloReply(r)
	switch {
	case code == 250:
		p.res.Service, p.res.SMTPExtensions = ServiceSMTP, exts
		p.tried(qEHLO+in, "identified")
		c.Write([]byte("QUIT\r\n"))
	case bn.ambiguous && code >= 500:
		// FTP servers reject the unknown command.
		p.res.Service = ServiceFTP
		p.tried(qEHLO+in, "identified: rejected as an unknown command, as FTP servers do")
	case len(r) > 0:
		p.tried(qEHLO+in, "answered something else")
	default:
		p.tried(qEHLO+in, p.outcome(err))
	}
}

// tlsConfig accepts any certificate (the probe looks at it, it does not
// trust it) and every version and cipher suite Go has, so that old
// servers are identified too.
func (p *prober) tlsConfig(alpn ...string) *tls.Config {
	var suites []uint16
	for _, s := range tls.CipherSuites() {
		suites = append(suites, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		suites = append(suites, s.ID)
	}
	return &tls.Config{
		InsecureSkipVerify: true,
		ServerName:         p.host,
		NextProtos:         alpn,
		MinVersion:         tls.VersionTLS10,
		CipherSuites:       suites,
	}
}

// askTLS tries a TLS handshake; when it succeeds, what speaks inside is
// identified too: a greeting (IMAPS, SMTPS) or HTTP.
func (p *prober) askTLS(ctx context.Context) (bool, []byte) {
	c, err := p.conn(ctx)
	if err != nil {
		p.tried(qTLS, "could not connect: "+p.outcome(err))
		return false, nil
	}
	p.arm(ctx, c)
	tc := tls.Client(c, p.tlsConfig("h2", "http/1.1"))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		var rh tls.RecordHeaderError
		var op *net.OpError
		switch {
		case errors.As(err, &rh):
			p.tried(qTLS, "answered something else")
			if b := firstRead(c); len(b) >= len(rh.RecordHeader) {
				return false, b
			}
			return false, rh.RecordHeader[:]
		case errors.As(err, &op) && op.Op == "remote error":
			// The server sent a TLS alert: it speaks TLS but would
			// not complete a handshake with this client.
			p.res.Service = ServiceTLS
			p.res.TLS = &TLSInfo{SANs: []string{}, Error: cleanString(err.Error(), bannerText)}
			p.tried(qTLS, "identified: the handshake failed with an alert")
			return true, nil
		}
		p.tried(qTLS, p.outcome(err))
		return false, nil
	}
	st := tc.ConnectionState()
	p.res.Service = ServiceTLS
	p.res.TLS = tlsInfo(st, p.host, time.Now())
	p.tried(qTLS, "identified")

	const in = " in tls"
	switch st.NegotiatedProtocol {
	case "h2":
		// HTTP/2 needs a client of its own; ask again for HTTP/1.1.
		tc.Close()
		c, err := p.dial(ctx)
		if err != nil {
			p.tried(qHTTP+in, "could not connect: "+p.outcome(err))
			return true, nil
		}
		p.arm(ctx, c)
		tc = tls.Client(c, p.tlsConfig("http/1.1"))
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			p.tried(qHTTP+in, "second handshake: "+p.outcome(err))
			return true, nil
		}
	case "http/1.1":
	default:
		b, err := p.readGreeting(ctx, tc)
		if len(b) > 0 {
			p.greeting(ctx, tc, b, in)
			tc.Close()
			return true, nil
		}
		p.tried(qBanner+in, p.outcome(err))
		if err != nil && !isTimeout(err) {
			tc.Close()
			return true, nil
		}
	}
	if ok, reply := p.http(ctx, tc, qHTTP+in, 443); !ok {
		p.res.Service = ServiceTLS
		if len(reply) > 0 {
			p.res.Reply, p.res.ReplyTo = Clean(reply, bannerText), qHTTP+in
		}
	}
	return true, nil
}

// TLSInfo is what a TLS handshake showed.
type TLSInfo struct {
	// Version is the negotiated version, "TLS 1.3".
	Version string `json:"version,omitempty"`
	// ALPN is the application protocol the server chose from h2 and
	// http/1.1; empty when it chose none.
	ALPN        string `json:"alpn,omitempty"`
	CipherSuite string `json:"cipher_suite,omitempty"`
	// Error is set when the server answered in TLS but ended the
	// handshake with an alert (no common version or cipher, a client
	// certificate required); then only Error is known.
	Error string `json:"error,omitempty"`

	// The server's certificate: its subject and issuer (RFC 2253),
	// subject alternative names (DNS names, IP addresses, e-mail
	// addresses, URIs), validity and SHA-256 fingerprint.
	Subject     string    `json:"subject,omitempty"`
	SANs        []string  `json:"sans"`
	Issuer      string    `json:"issuer,omitempty"`
	NotBefore   time.Time `json:"not_before,omitzero"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	Expired     bool      `json:"expired"`
	NotYetValid bool      `json:"not_yet_valid"`
	SelfSigned  bool      `json:"self_signed"`
	SHA256      string    `json:"sha256,omitempty"`
	// Chain is how many certificates the server sent.
	Chain int `json:"chain_length"`
	// Trusted is true when the chain verifies against this system's
	// roots for the host name probed; TrustError says why not.
	Trusted    bool   `json:"trusted"`
	TrustError string `json:"trust_error,omitempty"`
}

// tlsInfo describes a handshake's result; host is the name (or address)
// the certificate should be valid for.
func tlsInfo(st tls.ConnectionState, host string, now time.Time) *TLSInfo {
	t := &TLSInfo{
		Version:     tls.VersionName(st.Version),
		ALPN:        cleanString(st.NegotiatedProtocol, 64),
		CipherSuite: tls.CipherSuiteName(st.CipherSuite),
		SANs:        []string{},
		Chain:       len(st.PeerCertificates),
	}
	if len(st.PeerCertificates) == 0 {
		return t
	}
	c := st.PeerCertificates[0]
	t.Subject = cleanString(c.Subject.String(), bannerText)
	t.Issuer = cleanString(c.Issuer.String(), bannerText)
	const maxSANs = 64
	add := func(s string) {
		if len(t.SANs) < maxSANs {
			t.SANs = append(t.SANs, cleanString(s, bannerText))
		}
	}
	for _, n := range c.DNSNames {
		add(n)
	}
	for _, ip := range c.IPAddresses {
		add(ip.String())
	}
	for _, e := range c.EmailAddresses {
		add(e)
	}
	for _, u := range c.URIs {
		add(u.String())
	}
	t.NotBefore, t.NotAfter = c.NotBefore.UTC(), c.NotAfter.UTC()
	t.Expired = now.After(c.NotAfter)
	t.NotYetValid = now.Before(c.NotBefore)
	t.SelfSigned = bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
	sum := sha256.Sum256(c.Raw)
	t.SHA256 = hex.EncodeToString(sum[:])
	inter := x509.NewCertPool()
	for _, ic := range st.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	if _, err := c.Verify(x509.VerifyOptions{DNSName: host, Intermediates: inter, CurrentTime: now}); err != nil {
		t.TrustError = cleanString(err.Error(), bannerText)
	} else {
		t.Trusted = true
	}
	return t
}

// HTTPInfo is a server's answer to GET /.
type HTTPInfo struct {
	// Proto is the version of the answer, "HTTP/1.1".
	Proto string `json:"proto"`
	// Status and Reason are from the status line: 200, "OK".
	Status int    `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Server is the Server header.
	Server string `json:"server,omitempty"`
	// Title is the text of the page's <title>, from the first 64 KiB.
	Title string `json:"title,omitempty"`
	// Location is where a redirect points.
	Location    string `json:"location,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	// Authenticate is the WWW-Authenticate header of a 401: the scheme
	// and realm a login wants.
	Authenticate string `json:"www_authenticate,omitempty"`
	// Error is set when the answer started like HTTP but did not parse.
	Error string `json:"error,omitempty"`
}

// httpMaxBody is how much of a page is read for its title.
const httpMaxBody = 64 << 10

// askHTTP sends GET / on a plain connection.
func (p *prober) askHTTP(ctx context.Context) (bool, []byte) {
	c, err := p.conn(ctx)
	if err != nil {
		p.tried(qHTTP, "could not connect: "+p.outcome(err))
		return false, nil
	}
	return p.http(ctx, c, qHTTP, 80)
}

// http sends GET / on c and reads the answer; defaultPort is the port the
// Host header may leave out. It closes c.
func (p *prober) http(ctx context.Context, c net.Conn, question string, defaultPort uint16) (bool, []byte) {
	defer c.Close()
	host := p.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p.port != defaultPort {
		host += ":" + strconv.Itoa(int(p.port))
	}
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: whobinds-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	p.arm(ctx, c)
	if _, err := io.WriteString(c, req); err != nil {
		p.tried(question, p.outcome(err))
		return false, nil
	}
	br := bufio.NewReaderSize(c, 4096)
	head, err := br.Peek(5)
	if string(head) != "HTTP/" {
		if len(head) == 0 {
			p.tried(question, p.outcome(err))
			return false, nil
		}
		// Whatever else arrived with it, up to a line.
		more, _ := br.Peek(min(br.Buffered(), bannerText))
		p.tried(question, "answered something else")
		return false, more
	}
	h := &HTTPInfo{}
	p.res.Service, p.res.HTTP = ServiceHTTP, h
	p.tried(question, "identified")
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		line, _ := br.Peek(min(br.Buffered(), bannerText))
		h.Proto = "HTTP"
		h.Error = cleanString(err.Error(), bannerText)
		if len(line) > 0 {
			h.Error += ": " + Clean(firstLine(line), bannerText)
		}
		return true, nil
	}
	defer resp.Body.Close()
	h.Proto = cleanString(resp.Proto, 16)
	h.Status = resp.StatusCode
	h.Reason = cleanString(strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode))), 64)
	h.Server = cleanString(resp.Header.Get("Server"), bannerText)
	h.Location = cleanString(resp.Header.Get("Location"), bannerText)
	h.ContentType = cleanString(resp.Header.Get("Content-Type"), 128)
	h.Authenticate = cleanString(resp.Header.Get("WWW-Authenticate"), bannerText)
	p.res.Product = h.Server
	body, _ := io.ReadAll(io.LimitReader(resp.Body, httpMaxBody))
	h.Title = extractTitle(body)
	return true, nil
}

// askRedis sends PING, and INFO server when no password is needed.
func (p *prober) askRedis(ctx context.Context) (bool, []byte) {
	c, err := p.conn(ctx)
	if err != nil {
		p.tried(qRedis, "could not connect: "+p.outcome(err))
		return false, nil
	}
	defer c.Close()
	p.arm(ctx, c)
	if _, err := c.Write(redisPing); err != nil {
		p.tried(qRedis, p.outcome(err))
		return false, nil
	}
	line := func(b []byte) bool { return bytes.IndexByte(b, '\n') >= 0 }
	b, err := readMore(c, nil, 512, line)
	auth, ok := parseRedisPing(b)
	if !ok {
		if len(b) == 0 {
			p.tried(qRedis, p.outcome(err))
		} else {
			p.tried(qRedis, "answered something else")
		}
		return false, b
	}
	r := &RedisInfo{Auth: auth, Reply: Clean(firstLine(b), bannerText)}
	p.res.Service, p.res.Redis = ServiceRedis, r
	p.tried(qRedis, "identified")
	if auth != "none" {
		return true, nil
	}
	p.arm(ctx, c)
	if _, err := c.Write(redisInfo); err != nil {
		return true, nil
	}
	b, _ = readMore(c, nil, redisMaxReply, bulkComplete)
	r.Server, r.Version, r.Mode = parseRedisInfo(b)
	if r.Version != "" {
		p.res.Product = r.Server + " " + r.Version
	}
	return true, nil
}

// bulkComplete tells whether b holds a whole RESP bulk string or error.
func bulkComplete(b []byte) bool {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return false
	}
	if b[0] != '$' {
		return true // an error line, or something else: stop
	}
	n, err := strconv.Atoi(string(firstLine(b[1:])))
	if err != nil || n < 0 {
		return true
	}
	return len(b)-(i+1) >= n+2
}

// askPostgres sends an SSLRequest, then a StartupMessage: on the same
// connection when the server declined TLS, on a new one when it offered
// it (the probe does not speak TLS to it).
func (p *prober) askPostgres(ctx context.Context) (bool, []byte) {
	c, err := p.conn(ctx)
	if err != nil {
		p.tried(qPostgres, "could not connect: "+p.outcome(err))
		return false, nil
	}
	defer func() { c.Close() }()
	p.arm(ctx, c)
	if _, err := c.Write(sslRequest); err != nil {
		p.tried(qPostgres, p.outcome(err))
		return false, nil
	}
	b, err := readMore(c, nil, 64, some)
	ssl, ok := pgSSLAnswer(b)
	if !ok {
		if len(b) == 0 {
			p.tried(qPostgres, p.outcome(err))
		} else {
			p.tried(qPostgres, "answered something else")
		}
		return false, b
	}
	if ssl {
		c.Close()
		if c, err = p.dial(ctx); err != nil {
			p.tried(qPostgres, "answered S to SSLRequest, then could not connect: "+p.outcome(err))
			return false, b
		}
	}
	p.arm(ctx, c)
	if _, err := c.Write(startupMessage()); err != nil {
		p.tried(qPostgres, "answered "+string(b)+" to SSLRequest, then "+p.outcome(err))
		return false, b
	}
	var r pgReply
	var perr error
	reply, err := readMore(c, nil, 4*pgMaxMessage, func(b []byte) bool {
		r, perr = parsePostgres(b)
		return perr == nil || !errors.Is(perr, io.ErrUnexpectedEOF)
	})
	if perr != nil && (len(reply) == 0 || !r.done && r.info.Auth == "" && r.info.Error == "") {
		if len(reply) == 0 {
			p.tried(qPostgres, "answered "+string(b)+" to SSLRequest, then "+p.outcome(err))
			return false, b
		}
		p.tried(qPostgres, "answered "+string(b)+" to SSLRequest, then something else")
		return false, reply
	}
	if r.authOK {
		c.Write(terminate)
	}
	r.info.SSL = ssl
	p.res.Service, p.res.Postgres = ServicePostgreSQL, &r.info
	if v, _, _ := strings.Cut(r.info.Version, " "); v != "" {
		p.res.Product = "PostgreSQL " + v
	}
	p.tried(qPostgres, "identified")
	return true, nil
}

// askDCERPC binds to the endpoint mapper interface; when the server
// answers as DCE/RPC, the host's endpoint map says which interfaces live
// on the port.
func (p *prober) askDCERPC(ctx context.Context) (bool, []byte) {
	c, err := p.conn(ctx)
	if err != nil {
		p.tried(qDCERPC, "could not connect: "+p.outcome(err))
		return false, nil
	}
	defer c.Close()
	p.arm(ctx, c)
	if _, err := c.Write(dceBind); err != nil {
		p.tried(qDCERPC, p.outcome(err))
		return false, nil
	}
	b, err := readMore(c, nil, dceMaxReply, func(b []byte) bool {
		n, err := dceFragLen(b)
		return err != nil && !errors.Is(err, io.ErrUnexpectedEOF) || err == nil && len(b) >= n
	})
	d, perr := parseBindReply(b)
	if perr != nil {
		if len(b) == 0 {
			p.tried(qDCERPC, p.outcome(err))
		} else {
			p.tried(qDCERPC, "answered something else")
		}
		return false, b
	}
	c.Close()
	p.res.Service, p.res.DCERPC = ServiceDCERPC, d
	p.tried(qDCERPC, "identified")
	p.endpointMap(ctx, d)
	return true, nil
}

// endpointMap asks the endpoint mapper of the host that answered which
// interfaces it registered on the probed port.
func (p *prober) endpointMap(ctx context.Context, d *DCERPCInfo) {
	host, _, err := net.SplitHostPort(p.addr)
	if err != nil {
		d.MapError = err.Error()
		return
	}
	entries, err := dcerpc.Lookup(ctx, net.JoinHostPort(host, "135"), dcerpc.Limits{MaxBytes: 1 << 20, MaxEntries: 2000, MaxCalls: 20})
	if err != nil {
		d.MapError = cleanString(err.Error(), bannerText)
	}
	d.MapEntries = len(entries)
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Protocol != dcerpc.ProtoTCP || e.Port != p.port {
			continue
		}
		name := e.Name()
		if name == "" {
			name = fmt.Sprintf("%s v%s", e.Interface, e.Version)
		}
		if !seen[name] && len(d.Interfaces) < 64 {
			seen[name] = true
			d.Interfaces = append(d.Interfaces, cleanString(name, bannerText))
		}
	}
}
