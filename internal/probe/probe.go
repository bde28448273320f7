package probe

// This file holds Probe, its options, results and errors, and the order in
// which a silent server is asked its questions.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"time"
)

// What Result.Service holds. Add new values, never rename them: the JSON
// output of `whobinds probe` carries them.
const (
	ServiceSSH        = "ssh"
	ServiceSMTP       = "smtp"
	ServiceFTP        = "ftp"
	ServicePOP3       = "pop3"
	ServiceIMAP       = "imap"
	ServiceMySQL      = "mysql"
	ServiceVNC        = "vnc"
	ServiceTelnet     = "telnet"
	ServiceTLS        = "tls" // TLS, and nothing recognized inside it
	ServiceHTTP       = "http"
	ServiceRedis      = "redis"
	ServicePostgreSQL = "postgresql"
	ServiceDCERPC     = "dcerpc"
	// ServiceBanner: the server spoke first, in no protocol the probe
	// knows; Result.Banner has what it said.
	ServiceBanner = "banner"
	// ServiceUnknown: the server accepted the connection but answered no
	// question in a way the probe recognized; Result.Reply has the first
	// answer it did give, if any.
	ServiceUnknown = "unknown"
)

// Errors Probe wraps; compare with errors.Is.
var (
	// ErrAddress: addr is not HOST:PORT with a port from 1 to 65535.
	ErrAddress = errors.New("bad address")
	// ErrPrinterPort: the port is a raw printing port and Options.Force
	// is not set.
	ErrPrinterPort = errors.New("raw printing port")
	// ErrRefused: the host answered that nothing listens on the port.
	ErrRefused = errors.New("connection refused")
	// ErrUnreachable: the host could not be reached (name not found, no
	// route, no answer before the timeout).
	ErrUnreachable = errors.New("unreachable")
)

// IsPrinterPort reports whether port is one of the raw printing ports
// 9100-9107 (HP JetDirect, AppSocket): a printer on them prints every
// byte it receives, so a probe would waste paper.
func IsPrinterPort(port uint16) bool { return port >= 9100 && port <= 9107 }

// DefaultTimeout bounds a probe whose Options do not say.
const DefaultTimeout = 3 * time.Second

// Options configure a probe. The zero value is ready to use.
type Options struct {
	// Timeout bounds the whole probe, every connection and question
	// included (default 3s). The context passed to Probe may end it
	// sooner.
	Timeout time.Duration
	// Wait is how long each question waits for an answer, the first
	// unasked greeting included (default a sixth of Timeout, one share
	// for each of the six questions a silent server may be asked; at
	// least 100ms, at most 2s).
	Wait time.Duration
	// Force probes raw printing ports too (see IsPrinterPort).
	Force bool
	// MaxRead is the most bytes read from one connection (default
	// 256 KiB); a TLS handshake with a long chain needs tens of KiB.
	MaxRead int
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Wait <= 0 {
		o.Wait = min(max(o.Timeout/6, 100*time.Millisecond), 2*time.Second)
	}
	if o.MaxRead <= 0 {
		o.MaxRead = 256 << 10
	}
	return o
}

// Result is what answered on an address. Every text in it that came from
// the server was cleaned with Clean. The protocol sections are nil unless
// that protocol answered.
type Result struct {
	// Address is the address connected to, "127.0.0.1:8080".
	Address string `json:"address"`
	// Service is what answered, one of the Service constants.
	Service string `json:"service"`
	// Product is the software and version the server named, when it
	// did: "OpenSSH_9.2p1 Debian-2+deb12u3", "nginx/1.22.1", "Redis
	// 7.0.15", "PostgreSQL 15.18", "MariaDB 10.11.6-MariaDB-0+deb12u1".
	Product string `json:"product,omitempty"`
	// Banner is the first line the server sent before it was asked
	// anything (inside TLS when TLS is set and the server spoke first
	// there).
	Banner string `json:"banner,omitempty"`
	// Reply is the start of the first answer the probe did not
	// recognize, and ReplyTo the question that drew it ("http"): a raw
	// banner from a server that only speaks when spoken to.
	Reply   string `json:"reply,omitempty"`
	ReplyTo string `json:"reply_to,omitempty"`
	// SMTPExtensions are the extensions an SMTP server listed in its
	// answer to EHLO ("STARTTLS", "AUTH", "SIZE").
	SMTPExtensions []string `json:"smtp_extensions,omitempty"`

	TLS      *TLSInfo      `json:"tls"`
	HTTP     *HTTPInfo     `json:"http"`
	Redis    *RedisInfo    `json:"redis"`
	Postgres *PostgresInfo `json:"postgresql"`
	MySQL    *MySQLInfo    `json:"mysql"`
	DCERPC   *DCERPCInfo   `json:"dcerpc"`

	// Attempts are the questions asked, in order, and how each went.
	Attempts []Attempt `json:"attempts"`
}

// Attempt is one question asked of the server.
type Attempt struct {
	// Question is "banner" (waiting for an unasked greeting), "tls",
	// "http", "redis", "postgresql", "dcerpc", "smtp-ehlo", or one of
	// these with " in tls".
	Question string `json:"question"`
	// Outcome says how it went: "identified", "no answer within 750ms",
	// "closed without answering", "answered something else", ...
	Outcome string `json:"outcome"`
}

// The questions a silent server is asked.
const (
	qBanner   = "banner"
	qTLS      = "tls"
	qHTTP     = "http"
	qRedis    = "redis"
	qPostgres = "postgresql"
	qDCERPC   = "dcerpc"
	qEHLO     = "smtp-ehlo"
)

// questions is the order in which a silent server is asked, before port
// hints: TLS first, because a TLS server answers a plain HTTP request with
// an HTTP error page that would pass for a web server.
func questions(port uint16) []string {
	q := []string{qTLS, qHTTP, qRedis, qPostgres, qDCERPC}
	switch port {
	case 6379, 6380, 16379, 26379:
		q = toFront(q, qRedis)
	case 5432, 5433:
		q = toFront(q, qPostgres)
	case 135:
		q = toFront(q, qDCERPC)
	}
	return q
}

func toFront(q []string, s string) []string {
	i := slices.Index(q, s)
	if i <= 0 {
		return q
	}
	out := append([]string{s}, q[:i]...)
	return append(out, q[i+1:]...)
}

// hint says which question an unrecognized answer suggests asking next.
func hint(reply []byte) string {
	switch {
	case len(reply) >= 5 && string(reply[:5]) == "HTTP/":
		return qHTTP
	case len(reply) >= 1 && reply[0] == '-' || len(reply) >= 5 && string(reply[:5]) == "+PONG":
		return qRedis
	case len(reply) >= 2 && (reply[0] == 0x15 || reply[0] == 0x16) && reply[1] == 3:
		return qTLS // an alert or handshake record
	case len(reply) >= 2 && reply[0] == 5 && reply[1] <= 1:
		return qDCERPC
	case len(reply) >= 1 && reply[0] == 'E':
		return qPostgres // an ErrorResponse
	}
	return ""
}

// splitAddr splits HOST:PORT.
func splitAddr(addr string) (host string, port uint16, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if h == "" {
		return "", 0, errors.New("missing host")
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("port %q: want 1-65535", p)
	}
	return h, uint16(n), nil
}

// Probe connects to addr ("host:port", "[::1]:5432") and finds out what
// answers there (see the package documentation for how). It returns an
// error only when it could not connect: ErrAddress, ErrPrinterPort,
// ErrRefused (nothing listens), ErrUnreachable, or ctx's error. Once
// connected, whatever the server does, it returns a Result, with
// Service ServiceUnknown when nothing was recognized before the time ran
// out.
func Probe(ctx context.Context, addr string, opt Options) (*Result, error) {
	host, port, err := splitAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrAddress, addr, err)
	}
	if IsPrinterPort(port) && !opt.Force {
		return nil, fmt.Errorf("%s: port %d is a %w: a printer prints whatever a probe sends", addr, port, ErrPrinterPort)
	}
	opt = opt.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	p := &prober{addr: addr, host: host, port: port, opt: opt}
	c, err := p.dial(ctx)
	if err != nil {
		return nil, dialError(ctx, addr, opt.Timeout, err)
	}
	p.res = &Result{Address: c.RemoteAddr().String(), Service: ServiceUnknown, Attempts: []Attempt{}}
	// Later connections go to the address that answered, not to
	// another address the name may resolve to.
	p.addr = p.res.Address
	p.run(ctx, c)
	return p.res, nil
}

// dialError classifies a failed connection.
func dialError(ctx context.Context, addr string, timeout time.Duration, err error) error {
	switch {
	case isRefused(err):
		return fmt.Errorf("connecting to %s: %w", addr, ErrRefused)
	case errors.Is(err, context.Canceled) && ctx.Err() == context.Canceled:
		return fmt.Errorf("connecting to %s: %w", addr, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("connecting to %s: %w: no answer within %v", addr, ErrUnreachable, timeout)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	return fmt.Errorf("connecting to %s: %w: %v", addr, ErrUnreachable, err)
}

// prober is one probe in progress.
type prober struct {
	addr string // where to connect
	host string // the host as given: SNI, the Host header
	port uint16
	opt  Options
	res  *Result
	// spare is a connection on which nothing was sent yet: the first
	// one, after the server did not greet.
	spare net.Conn
}

// run asks the server its questions on c, the first connection.
func (p *prober) run(ctx context.Context, c net.Conn) {
	b, err := p.readGreeting(ctx, c)
	if len(b) > 0 {
		p.greeting(ctx, c, b, "")
		c.Close()
		return
	}
	p.tried(qBanner, p.outcome(err))
	if err != nil && !isTimeout(err) {
		c.Close() // closed or reset: ask on fresh connections
	} else {
		p.spare = c
	}
	defer func() {
		if p.spare != nil {
			p.spare.Close()
		}
	}()
	// The first answer nothing recognized: kept only when nothing else
	// identifies the server.
	var reply []byte
	var replyTo string
	queue := questions(p.port)
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		if err := ctx.Err(); err != nil {
			why := "the time ran out"
			if errors.Is(err, context.Canceled) {
				why = "cancelled"
			}
			p.tried(q, "not asked: "+why)
			continue
		}
		var done bool
		var answer []byte
		switch q {
		case qTLS:
			done, answer = p.askTLS(ctx)
		case qHTTP:
			done, answer = p.askHTTP(ctx)
		case qRedis:
			done, answer = p.askRedis(ctx)
		case qPostgres:
			done, answer = p.askPostgres(ctx)
		case qDCERPC:
			done, answer = p.askDCERPC(ctx)
		}
		if done {
			for _, rest := range queue {
				p.tried(rest, "not asked: already identified")
			}
			return
		}
		if len(answer) > 0 {
			if reply == nil {
				reply, replyTo = answer, q
			}
			if h := hint(answer); h != "" && slices.Contains(queue, h) {
				queue = toFront(queue, h)
			}
		}
	}
	if reply != nil {
		p.res.Reply, p.res.ReplyTo = Clean(reply, bannerText), replyTo
	}
}

// conn returns the spare connection or a new one.
func (p *prober) conn(ctx context.Context) (net.Conn, error) {
	if c := p.spare; c != nil {
		p.spare = nil
		return c, nil
	}
	return p.dial(ctx)
}

// dial connects to p.addr. The connection reads at most opt.MaxRead
// bytes, and ctx's end interrupts whatever it is doing.
func (p *prober) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	lc := &limitedConn{Conn: c, max: p.opt.MaxRead, left: p.opt.MaxRead}
	lc.stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	return lc, nil
}

// arm gives the next exchange on c opt.Wait, within ctx's deadline.
func (p *prober) arm(ctx context.Context, c net.Conn) {
	d := time.Now().Add(p.opt.Wait)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	c.SetDeadline(d)
}

func (p *prober) tried(question, outcome string) {
	p.res.Attempts = append(p.res.Attempts, Attempt{Question: question, Outcome: outcome})
}

// outcome describes how a question that was not answered went.
func (p *prober) outcome(err error) string {
	var tooMuch *limitError
	switch {
	case err == nil:
		return "answered something else"
	case isTimeout(err):
		return fmt.Sprintf("no answer within %v", p.opt.Wait)
	case errors.Is(err, io.EOF):
		return "closed without answering"
	case errors.As(err, &tooMuch):
		return err.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	return "failed: " + cleanString(err.Error(), bannerText)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}

// limitedConn is a connection that reads at most left more bytes. It
// keeps the first bytes it read, so that an answer a TLS client rejected
// can still be shown.
type limitedConn struct {
	net.Conn
	max, left int
	first     []byte
	stop      func() bool
}

// limitError: the server sent more than the probe reads.
type limitError struct{ max int }

func (e *limitError) Error() string {
	return fmt.Sprintf("sent more than the %d bytes a probe reads", e.max)
}

func (c *limitedConn) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, &limitError{c.max}
	}
	if len(b) > c.left {
		b = b[:c.left]
	}
	n, err := c.Conn.Read(b)
	c.left -= n
	if keep := bannerText - len(c.first); keep > 0 {
		c.first = append(c.first, b[:min(n, keep)]...)
	}
	return n, err
}

// firstRead returns the first bytes read from c, if c is a limitedConn.
func firstRead(c net.Conn) []byte {
	if lc, ok := c.(*limitedConn); ok {
		return lc.first
	}
	return nil
}

func (c *limitedConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// readMore reads from c, appending to buf, until complete(buf) holds,
// limit bytes are in buf, or a read fails. The error is nil in the first
// two cases.
func readMore(c net.Conn, buf []byte, limit int, complete func([]byte) bool) ([]byte, error) {
	for {
		if complete(buf) || len(buf) >= limit {
			return buf, nil
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(limit-len(buf), max(512, len(buf))))
		}
		n, err := c.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if complete(buf) {
				return buf, nil
			}
			return buf, err
		}
	}
}

func some(b []byte) bool { return len(b) > 0 }
