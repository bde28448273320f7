package probe

// Probe against servers the tests run in this process on loopback: Go's
// TLS and HTTP servers, small line servers that greet like SMTP and FTP
// servers, and hostile ones that never stop talking or never answer.
// The real daemons are in probe_linux_test.go.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testCert is a self-signed certificate and its key.
type testCert struct {
	cert     tls.Certificate
	certPEM  []byte
	keyPEM   []byte
	notAfter time.Time
}

// selfSigned makes a self-signed ECDSA certificate for cn with the given
// DNS and IP SANs, valid from notBefore to notAfter.
func selfSigned(t testing.TB, cn string, dns []string, ips []net.IP, notBefore, notAfter time.Time) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"whobinds test"}},
		DNSNames:              dns,
		IPAddresses:           ips,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tc := testCert{
		certPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:   pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		notAfter: notAfter,
	}
	tc.cert, err = tls.X509KeyPair(tc.certPEM, tc.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// write puts the certificate and key in dir as cert.pem and key.pem.
func (c testCert) write(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c.certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// listen opens a listener on 127.0.0.1 that is closed when the test ends.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serve runs handle for every connection to ln until the test ends.
func serve(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	t.Helper()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				handle(c)
			}()
		}
	}()
}

func probe(t testing.TB, addr string, opt Options) *Result {
	t.Helper()
	if opt.Timeout == 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.Wait == 0 {
		opt.Wait = time.Second
	}
	r, err := Probe(context.Background(), addr, opt)
	if err != nil {
		t.Fatalf("Probe(%s) = %v", addr, err)
	}
	t.Logf("Probe(%s): %+v", addr, r.Attempts)
	return r
}

// TestGoTLSServer: Go's HTTPS server offers HTTP/2, so the probe sees the
// certificate and ALPN h2 on its first connection and asks for the page
// on a second one.
func TestGoTLSServer(t *testing.T) {
	now := time.Now()
	cert := selfSigned(t, "probe.test", []string{"probe.test", "localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	ln := listen(t)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "go-test/1.0")
			fmt.Fprintf(w, "<html><head><TITLE lang=en>\n  Probe &amp; test\t page </TITLE></head><body>%s %s</body></html>", r.Proto, r.Host)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert.cert}},
		ErrorLog:  nil,
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })

	r := probe(t, ln.Addr().String(), Options{})
	if r.Service != ServiceHTTP || r.TLS == nil || r.HTTP == nil {
		t.Fatalf("Probe(Go HTTPS) = service %q, tls %v, http %v; want http over TLS", r.Service, r.TLS, r.HTTP)
	}
	want := &TLSInfo{
		Version:     "TLS 1.3",
		ALPN:        "h2",
		Subject:     "CN=probe.test,O=whobinds test",
		Issuer:      "CN=probe.test,O=whobinds test",
		SANs:        []string{"probe.test", "localhost", "127.0.0.1"},
		NotBefore:   cert.cert.Leaf.NotBefore.UTC(),
		NotAfter:    cert.cert.Leaf.NotAfter.UTC(),
		SelfSigned:  true,
		Chain:       1,
		SHA256:      r.TLS.SHA256,
		CipherSuite: r.TLS.CipherSuite,
		TrustError:  r.TLS.TrustError,
	}
	if diff := cmp.Diff(want, r.TLS); diff != "" {
		t.Errorf("TLS (-want +got):\n%s", diff)
	}
	if r.TLS.Trusted || r.TLS.TrustError == "" || len(r.TLS.SHA256) != 64 || r.TLS.CipherSuite == "" {
		t.Errorf("TLS = %+v; want untrusted with a reason, a fingerprint and a cipher suite", r.TLS)
	}
	wantHTTP := &HTTPInfo{Proto: "HTTP/1.1", Status: 200, Reason: "OK", Server: "go-test/1.0", Title: "Probe & test page", ContentType: "text/html; charset=utf-8"}
	if diff := cmp.Diff(wantHTTP, r.HTTP); diff != "" {
		t.Errorf("HTTP (-want +got):\n%s", diff)
	}
	if r.Product != "go-test/1.0" {
		t.Errorf("Product = %q; want the Server header go-test/1.0", r.Product)
	}
}

// TestExpiredCertificate: an expired certificate is flagged as such.
func TestExpiredCertificate(t *testing.T) {
	old := time.Now().AddDate(-2, 0, 0)
	cert := selfSigned(t, "expired.test", []string{"expired.test"}, nil, old, old.AddDate(1, 0, 0))
	ln := tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{cert.cert}})
	serve(t, ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 302 Found\r\nLocation: https://elsewhere.test/login\r\nContent-Length: 0\r\n\r\n")
	})
	r := probe(t, ln.Addr().String(), Options{})
	// The reason it is not trusted is the platform verifier's to word
	// (on Windows, CertGetCertificateChain's).
	if r.TLS == nil || !r.TLS.Expired || r.TLS.NotYetValid || r.TLS.Trusted || r.TLS.TrustError == "" {
		t.Errorf("TLS = %+v; want expired and untrusted", r.TLS)
	}
	if r.TLS != nil && r.TLS.ALPN != "" {
		t.Errorf("ALPN = %q; want none: the server offers none", r.TLS.ALPN)
	}
	if r.HTTP == nil || r.HTTP.Status != 302 || r.HTTP.Location != "https://elsewhere.test/login" {
		t.Errorf("HTTP = %+v; want the redirect to https://elsewhere.test/login", r.HTTP)
	}
}

// TestGreetings: servers that speak first, and the EHLO that tells a bare
// 220 apart.
func TestGreetings(t *testing.T) {
	tests := []struct {
		name     string
		greeting string
		// answer replies to each line the client sends; nil: none.
		answer  func(line string) string
		service string
		product string
		banner  string
		exts    []string
	}{
		{
			name:     "SMTP",
			greeting: "220 mail.example ESMTP whobinds-test\r\n",
			answer: func(line string) string {
				if strings.HasPrefix(line, "EHLO ") {
					return "250-mail.example greets you\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SIZE 10240000\r\n"
				}
				return "221 bye\r\n"
			},
			service: ServiceSMTP,
			banner:  "220 mail.example ESMTP whobinds-test",
			exts:    []string{"PIPELINING", "STARTTLS", "SIZE"},
		},
		{
			name:     "SMTP greeting without an answer to EHLO",
			greeting: "220-mail.example ESMTP\r\n220 no spam\r\n",
			service:  ServiceSMTP,
			banner:   "220-mail.example ESMTP",
		},
		{
			name:     "bare 220 answered like FTP",
			greeting: "220 welcome\r\n",
			answer:   func(string) string { return "500 Unknown command.\r\n" },
			service:  ServiceFTP,
			banner:   "220 welcome",
		},
		{
			name:     "bare 220 answered like SMTP",
			greeting: "220 welcome\r\n",
			answer:   func(string) string { return "250 ok\r\n" },
			service:  ServiceSMTP,
			banner:   "220 welcome",
		},
		{
			name:     "vsftpd",
			greeting: "220 (vsFTPd 3.0.3)\r\n",
			service:  ServiceFTP,
			banner:   "220 (vsFTPd 3.0.3)",
		},
		{
			name:     "SSH",
			greeting: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
			service:  ServiceSSH,
			product:  "OpenSSH_9.2p1 Debian-2+deb12u3",
			banner:   "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
		},
		{
			name:     "escape sequences",
			greeting: "\x1b[2J\x1b]0;owned\x07hello\u202e\r\n",
			service:  ServiceBanner,
			banner:   `\x1b[2J\x1b]0;owned\x07hello\u202e`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t)
			serve(t, ln, func(c net.Conn) {
				io.WriteString(c, tt.greeting)
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if tt.answer != nil {
						io.WriteString(c, tt.answer(sc.Text()))
					}
				}
			})
			r := probe(t, ln.Addr().String(), Options{Wait: 500 * time.Millisecond})
			got := []string{r.Service, r.Product, r.Banner}
			want := []string{tt.service, tt.product, tt.banner}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("service, product, banner (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.exts, r.SMTPExtensions); diff != "" {
				t.Errorf("SMTPExtensions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFakeMySQL: a server that sends MariaDB's handshake is MariaDB.
func TestFakeMySQL(t *testing.T) {
	ln := listen(t)
	serve(t, ln, func(c net.Conn) {
		c.Write(mariadbHandshake)
		io.Copy(io.Discard, c)
	})
	r := probe(t, ln.Addr().String(), Options{})
	if r.Service != ServiceMySQL || r.MySQL == nil || r.Product != "MariaDB 10.11.19-MariaDB-0+deb12u1" {
		t.Errorf("Probe(fake MariaDB) = %q %q %+v; want mysql, MariaDB 10.11.19-MariaDB-0+deb12u1", r.Service, r.Product, r.MySQL)
	}
}

// TestHostileServers: a server cannot make the probe read without end,
// and one that says nothing leaves the service unknown.
func TestHostileServers(t *testing.T) {
	t.Run("endless greeting", func(t *testing.T) {
		ln := listen(t)
		serve(t, ln, func(c net.Conn) {
			chunk := []byte(strings.Repeat("A", 4096))
			for {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		})
		r := probe(t, ln.Addr().String(), Options{})
		if r.Service != ServiceBanner || len([]rune(r.Banner)) > bannerText+1 {
			t.Errorf("Probe(endless greeting) = %q with a banner of %d runes; want banner, at most %d", r.Service, len([]rune(r.Banner)), bannerText+1)
		}
	})
	t.Run("endless HTTP headers", func(t *testing.T) {
		ln := listen(t)
		serve(t, ln, func(c net.Conn) {
			bufio.NewReader(c).ReadString('\n') // wait to be asked
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			for {
				if _, err := io.WriteString(c, "X-Filler: "+strings.Repeat("B", 1000)+"\r\n"); err != nil {
					return
				}
			}
		})
		r := probe(t, ln.Addr().String(), Options{MaxRead: 64 << 10})
		if r.Service != ServiceHTTP || r.HTTP == nil || r.HTTP.Error == "" {
			t.Errorf("Probe(endless headers) = %q, %+v; want http with an error", r.Service, r.HTTP)
		}
	})
	t.Run("silent", func(t *testing.T) {
		ln := listen(t)
		serve(t, ln, func(c net.Conn) { io.Copy(io.Discard, c) })
		r := probe(t, ln.Addr().String(), Options{Wait: 200 * time.Millisecond})
		if r.Service != ServiceUnknown || r.Reply != "" {
			t.Errorf("Probe(silent) = %q, reply %q; want unknown, no reply", r.Service, r.Reply)
		}
		var asked []string
		for _, a := range r.Attempts {
			asked = append(asked, a.Question)
			if a.Outcome == "identified" {
				t.Errorf("attempt %+v identified a silent server", a)
			}
		}
		if want := []string{qBanner, qTLS, qHTTP, qRedis, qPostgres, qDCERPC}; !cmp.Equal(asked, want) {
			t.Errorf("questions = %q; want %q", asked, want)
		}
	})
	t.Run("closes at once", func(t *testing.T) {
		ln := listen(t)
		serve(t, ln, func(c net.Conn) {})
		r := probe(t, ln.Addr().String(), Options{})
		if r.Service != ServiceUnknown || len(r.Attempts) != 6 || r.Attempts[0].Outcome != "closed without answering" {
			t.Errorf("Probe(closes at once) = %q, %+v; want unknown after six questions, the first closed", r.Service, r.Attempts)
		}
	})
	t.Run("unknown reply", func(t *testing.T) {
		ln := listen(t)
		serve(t, ln, func(c net.Conn) {
			c.Read(make([]byte, 1024))
			io.WriteString(c, "?? what\r\n")
		})
		r := probe(t, ln.Addr().String(), Options{})
		if r.Service != ServiceUnknown || r.Reply != `?? what\r\n` || r.ReplyTo != qTLS {
			t.Errorf("Probe(unknown reply) = %q, reply %q to %q; want unknown, the reply to tls", r.Service, r.Reply, r.ReplyTo)
		}
	})
}

func TestProbeErrors(t *testing.T) {
	closed := listen(t)
	closedAddr := closed.Addr().String()
	closed.Close()
	tests := []struct {
		addr string
		opt  Options
		want error
	}{
		{closedAddr, Options{}, ErrRefused},
		{"127.0.0.1:9100", Options{}, ErrPrinterPort},
		{"127.0.0.1:9107", Options{}, ErrPrinterPort},
		{"127.0.0.1", Options{}, ErrAddress},
		{"127.0.0.1:0", Options{}, ErrAddress},
		{"127.0.0.1:http", Options{}, ErrAddress},
		{":80", Options{}, ErrAddress},
		{"host.invalid:80", Options{Timeout: time.Second}, ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			r, err := Probe(context.Background(), tt.addr, tt.opt)
			if !errors.Is(err, tt.want) || r != nil {
				t.Errorf("Probe(%s) = %v, %v; want nil, %v", tt.addr, r, err, tt.want)
			}
		})
	}
	// Force lets a printer port be probed: here, nothing listens.
	port := strconv.Itoa(9100)
	if _, err := Probe(context.Background(), "127.0.0.1:"+port, Options{Force: true}); errors.Is(err, ErrPrinterPort) {
		t.Errorf("Probe(127.0.0.1:9100, Force) = %v; want no printer refusal", err)
	}
}

// TestCancel: cancelling the context ends a probe of a silent server.
func TestCancel(t *testing.T) {
	ln := listen(t)
	serve(t, ln, func(c net.Conn) { io.Copy(io.Discard, c) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Result)
	go func() {
		r, _ := Probe(ctx, ln.Addr().String(), Options{Timeout: time.Minute, Wait: 20 * time.Second})
		done <- r
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case r := <-done:
		if r == nil || r.Service != ServiceUnknown {
			t.Errorf("cancelled Probe = %+v; want a result with service unknown", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Probe did not return after its context was cancelled")
	}
}

func TestDialError(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", refusedErrno)}, ErrRefused},
		{"timeout", &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, ErrUnreachable},
		{"deadline", context.DeadlineExceeded, ErrUnreachable},
		{"no such host", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := dialError(ctx, "x:1", time.Second, tt.err); !errors.Is(err, tt.want) {
				t.Errorf("dialError(%v) = %v; want %v", tt.err, err, tt.want)
			}
		})
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := dialError(cancelled, "x:1", time.Second, context.Canceled); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnreachable) {
		t.Errorf("dialError(cancelled) = %v; want context.Canceled", err)
	}
}

// TestOldAndRefusingTLS: a TLS 1.1 server is still identified, with its
// version; a server that answers the handshake with an alert is TLS.
func TestOldAndRefusingTLS(t *testing.T) {
	now := time.Now()
	cert := selfSigned(t, "old.test", nil, nil, now.Add(-time.Hour), now.Add(time.Hour))
	old := tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{cert.cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	serve(t, old, func(c net.Conn) { io.Copy(io.Discard, c) })
	r := probe(t, old.Addr().String(), Options{Wait: 300 * time.Millisecond})
	if r.Service != ServiceTLS || r.TLS == nil || r.TLS.Version != "TLS 1.1" || r.TLS.Subject != "CN=old.test,O=whobinds test" {
		t.Errorf("Probe(TLS 1.1 server) = %q, %+v; want tls, TLS 1.1, CN=old.test", r.Service, r.TLS)
	}

	alert := listen(t)
	serve(t, alert, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		c.Write([]byte("\x15\x03\x03\x00\x02\x02\x28")) // fatal handshake_failure
	})
	r = probe(t, alert.Addr().String(), Options{})
	if r.Service != ServiceTLS || r.TLS == nil || !strings.Contains(r.TLS.Error, "handshake failure") || r.TLS.Subject != "" {
		t.Errorf("Probe(alerting server) = %q, %+v; want tls with the handshake failure", r.Service, r.TLS)
	}
}
