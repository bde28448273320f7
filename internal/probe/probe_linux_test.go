package probe

// Probe against the real servers: nginx, redis-server, PostgreSQL,
// OpenSSH's sshd, openssl s_server, MariaDB and Samba's DCE/RPC server.
// Each test starts its own server on 127.0.0.1 with a free port and its
// configuration and data in a temporary directory, and stops it when it
// ends; the host's daemons are never touched. sshd and Samba run in
// network, mount and PID namespaces of the test's own, because they want
// directories under /run.
//
// Debian packages: nginx (or nginx-light), redis-server, postgresql,
// openssh-server, openssl, mariadb-server, samba. A missing one skips its
// test, or fails it under WHOBINDS_REQUIRE_INTEGRATION=1.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/whobinds/whobinds/internal/rpc/dcerpc"
	"github.com/whobinds/whobinds/internal/testutil"
)

// startServer starts cmd in a process group of its own, stopped when the
// test ends, and waits until addr accepts connections.
func startServer(t *testing.T, addr string, cmd *exec.Cmd) {
	t.Helper()
	_, exited := testutil.StartProcessGroup(t, cmd)
	testutil.WaitFor(t, cmd.Args[0]+" listening on "+addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("%s exited before it listened on %s", strings.Join(cmd.Args, " "), addr)
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func addrOf(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func TestNginx(t *testing.T) {
	nginx := testutil.Sbin(t, "nginx")
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	page := "<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>whobinds &amp; nginx</title></head><body>test</body></html>\n"
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	certFile, keyFile := selfSigned(t, "nginx.test", []string{"nginx.test"}, []net.IP{net.IPv4(127, 0, 0, 1)}, now.Add(-time.Hour), now.Add(24*time.Hour)).write(t, dir)
	plain, redirect, https := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	text := fmt.Sprintf(`user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr info;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server { listen 127.0.0.1:%[2]d; root %[3]s; }
	server { listen 127.0.0.1:%[4]d; return 301 https://example.test/moved; }
	server {
		listen 127.0.0.1:%[5]d ssl;
		ssl_certificate %[6]s;
		ssl_certificate_key %[7]s;
		ssl_protocols TLSv1.2;
		root %[3]s;
	}
}
`, dir, plain, www, redirect, https, certFile, keyFile)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-e", "stderr", "-p", dir, "-c", conf, "-g", "daemon off;")
	startServer(t, addrOf(plain), cmd)
	for _, p := range []int{redirect, https} {
		testutil.WaitFor(t, "nginx on "+addrOf(p), func() bool {
			c, err := net.Dial("tcp", addrOf(p))
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	version := nginxVersion(t, nginx)

	t.Run("page", func(t *testing.T) {
		r := probe(t, addrOf(plain), Options{})
		if r.Service != ServiceHTTP || r.TLS != nil || r.HTTP == nil {
			t.Fatalf("Probe(nginx) = %q, tls %+v, http %+v; want plain http", r.Service, r.TLS, r.HTTP)
		}
		if r.HTTP.Status != 200 || r.HTTP.Title != "whobinds & nginx" || r.HTTP.Server != version || r.Product != version {
			t.Errorf("Probe(nginx).HTTP = %+v, product %q; want 200, title \"whobinds & nginx\", server %s", r.HTTP, r.Product, version)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		r := probe(t, addrOf(redirect), Options{})
		if r.HTTP == nil || r.HTTP.Status != 301 || r.HTTP.Location != "https://example.test/moved" {
			t.Errorf("Probe(nginx redirect).HTTP = %+v; want 301 to https://example.test/moved", r.HTTP)
		}
	})
	t.Run("https", func(t *testing.T) {
		r := probe(t, addrOf(https), Options{})
		if r.Service != ServiceHTTP || r.TLS == nil || r.HTTP == nil {
			t.Fatalf("Probe(nginx https) = %q, tls %+v, http %+v; want http over TLS", r.Service, r.TLS, r.HTTP)
		}
		if r.TLS.Version != "TLS 1.2" || r.TLS.Subject != "CN=nginx.test,O=whobinds test" || !slices.Equal(r.TLS.SANs, []string{"nginx.test", "127.0.0.1"}) ||
			!r.TLS.SelfSigned || r.TLS.Expired {
			t.Errorf("Probe(nginx https).TLS = %+v; want TLS 1.2, CN=nginx.test, SANs nginx.test and 127.0.0.1, self-signed, valid", r.TLS)
		}
		if r.HTTP.Status != 200 || r.HTTP.Title != "whobinds & nginx" {
			t.Errorf("Probe(nginx https).HTTP = %+v; want the page", r.HTTP)
		}
	})
}

// nginxVersion is the Server header nginx sends: "nginx/1.22.1".
func nginxVersion(t *testing.T, nginx string) string {
	out, err := exec.Command(nginx, "-v").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -v: %v: %s", err, out)
	}
	_, v, ok := strings.Cut(strings.TrimSpace(string(out)), "version: ")
	if !ok {
		t.Fatalf("nginx -v = %q", out)
	}
	v, _, _ = strings.Cut(v, " ")
	return v
}

func TestRedis(t *testing.T) {
	server := testutil.NeedCommand(t, "redis-server")
	out, err := exec.Command(server, "--version").Output()
	if err != nil {
		t.Fatalf("redis-server --version: %v", err)
	}
	_, version, _ := strings.Cut(string(out), " v=")
	version, _, _ = strings.Cut(version, " ")
	tests := []struct {
		name    string
		args    []string
		auth    string
		version string
	}{
		{"no password", nil, "none", version},
		{"password", []string{"--requirepass", "s3cret"}, "required", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := testutil.FreePort(t)
			args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
				"--daemonize", "no", "--dir", t.TempDir(), "--logfile", ""}, tt.args...)
			startServer(t, addrOf(port), exec.Command(server, args...))
			r := probe(t, addrOf(port), Options{})
			if r.Service != ServiceRedis || r.Redis == nil {
				t.Fatalf("Probe(redis-server %s) = %q; want redis", tt.name, r.Service)
			}
			if r.Redis.Auth != tt.auth || r.Redis.Version != tt.version {
				t.Errorf("Probe(redis-server %s).Redis = %+v; want auth %q, version %q", tt.name, r.Redis, tt.auth, tt.version)
			}
			if tt.version != "" && (r.Product != "Redis "+tt.version || r.Redis.Mode != "standalone") {
				t.Errorf("Probe(redis-server).Product = %q, mode %q; want Redis %s, standalone", r.Product, r.Redis.Mode, tt.version)
			}
		})
	}
}

// postgresBin is the directory of the newest PostgreSQL server installed
// the Debian way.
func postgresBin(t *testing.T) string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(dirs) == 0 {
		testutil.Missing(t, "PostgreSQL is not installed (Debian package postgresql)")
	}
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(a))))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(b))))
		return va - vb
	})
	return filepath.Dir(dirs[len(dirs)-1])
}

// asUser makes cmd run as u.
func asUser(cmd *exec.Cmd, u *user.User) *exec.Cmd {
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	return cmd
}

func TestPostgres(t *testing.T) {
	testutil.NeedRoot(t)
	bin := postgresBin(t)
	pg, err := user.Lookup("postgres")
	if err != nil {
		testutil.Missing(t, "no postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
	version := strings.Fields(string(out))[2]

	tests := []struct {
		name string
		ssl  bool
		hba  string
		want PostgresInfo
	}{
		{"trust", false, "host all all 127.0.0.1/32 trust\n", PostgresInfo{Auth: "trust"}},
		{"ssl and scram", true, "host all all 127.0.0.1/32 scram-sha-256\n", PostgresInfo{SSL: true, Auth: "sasl", Mechanisms: []string{"SCRAM-SHA-256"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Under /tmp, not t.TempDir(): the postgres user must be able
			// to reach it.
			dir, err := os.MkdirTemp("", "whobinds-pg-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			data := filepath.Join(dir, "data")
			args := []string{"-D", data, "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"}
			if tt.ssl {
				certFile, keyFile := selfSigned(t, "pg.test", []string{"pg.test"}, nil, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)).write(t, dir)
				args = append(args, "-c", "ssl=on", "-c", "ssl_cert_file="+certFile, "-c", "ssl_key_file="+keyFile)
			}
			if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				return os.Chown(p, uid, gid)
			}); err != nil {
				t.Fatal(err)
			}
			initdb := asUser(exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-N"), pg)
			initdb.Dir = dir
			if out, err := initdb.CombinedOutput(); err != nil {
				t.Fatalf("initdb: %v\n%s", err, out)
			}
			hba := "local all all trust\n" + tt.hba
			if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chown(filepath.Join(data, "pg_hba.conf"), uid, gid)
			port := testutil.FreePort(t)
			cmd := asUser(exec.Command(filepath.Join(bin, "postgres"), append(args, "-p", strconv.Itoa(port))...), pg)
			cmd.Dir = dir
			startServer(t, addrOf(port), cmd)

			r := probe(t, addrOf(port), Options{})
			if r.Service != ServicePostgreSQL || r.Postgres == nil {
				t.Fatalf("Probe(postgres %s) = %q; want postgresql", tt.name, r.Service)
			}
			want := tt.want
			if want.Auth == "trust" {
				want.Version = r.Postgres.Version
				if !strings.HasPrefix(r.Postgres.Version, version+" ") || r.Product != "PostgreSQL "+version {
					t.Errorf("Probe(postgres trust) = version %q, product %q; want %s", r.Postgres.Version, r.Product, version)
				}
			}
			if diff := cmp.Diff(want, *r.Postgres); diff != "" {
				t.Errorf("Probe(postgres %s).Postgres (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestSSHD(t *testing.T) {
	if !testutil.InNamespaces(t) {
		return
	}
	sshd := testutil.Sbin(t, "sshd")
	keygen := testutil.NeedCommand(t, "ssh-keygen")
	ssh := testutil.NeedCommand(t, "ssh")
	// The privilege separation directory, in the test's own /run.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "host_ed25519")
	testutil.Run(t, keygen, "-q", "-t", "ed25519", "-N", "", "-f", key)
	port := testutil.FreePort(t)
	conf := filepath.Join(dir, "sshd_config")
	text := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\nUsePAM no\n", port, key)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, addrOf(port), exec.Command(sshd, "-D", "-e", "-f", conf))

	// ssh -V and the server's banner name the same OpenSSH build.
	out, err := exec.Command(ssh, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh -V: %v", err)
	}
	want, _, _ := strings.Cut(strings.TrimSpace(string(out)), ",")
	r := probe(t, addrOf(port), Options{})
	if r.Service != ServiceSSH || r.Product != want || r.Banner != "SSH-2.0-"+want {
		t.Errorf("Probe(sshd) = %q, product %q, banner %q; want ssh, %q", r.Service, r.Product, r.Banner, want)
	}
}

func TestOpenSSLServer(t *testing.T) {
	openssl := testutil.NeedCommand(t, "openssl")
	dir := t.TempDir()
	now := time.Now()
	certFile, keyFile := selfSigned(t, "s-server.test", []string{"s-server.test", "alt.s-server.test"}, nil, now.Add(-time.Hour), now.Add(time.Hour)).write(t, dir)
	tests := []struct {
		name    string
		args    []string
		version string
		alpn    string
	}{
		{"TLS 1.2 and ALPN", []string{"-tls1_2", "-alpn", "http/1.1"}, "TLS 1.2", "http/1.1"},
		{"TLS 1.3 without ALPN", []string{"-tls1_3"}, "TLS 1.3", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := testutil.FreePort(t)
			args := append([]string{"s_server", "-accept", addrOf(port), "-cert", certFile, "-key", keyFile, "-www"}, tt.args...)
			startServer(t, addrOf(port), exec.Command(openssl, args...))
			r := probe(t, addrOf(port), Options{})
			if r.TLS == nil {
				t.Fatalf("Probe(openssl s_server) = %q without TLS", r.Service)
			}
			if r.TLS.Version != tt.version || r.TLS.ALPN != tt.alpn || r.TLS.Subject != "CN=s-server.test,O=whobinds test" ||
				!slices.Equal(r.TLS.SANs, []string{"s-server.test", "alt.s-server.test"}) {
				t.Errorf("Probe(openssl s_server).TLS = %+v; want %s, ALPN %q, CN=s-server.test and its SANs", r.TLS, tt.version, tt.alpn)
			}
			// -www answers GET / with a status page.
			if r.Service != ServiceHTTP || r.HTTP == nil || r.HTTP.Status != 200 {
				t.Errorf("Probe(openssl s_server -www) = %q, %+v; want HTTP 200 inside TLS", r.Service, r.HTTP)
			}
		})
	}
}

func TestMariaDB(t *testing.T) {
	mariadbd := testutil.Sbin(t, "mariadbd")
	install := testutil.NeedCommand(t, "mariadb-install-db")
	testutil.NeedRoot(t) // --user=root
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(install, "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	out, err := exec.Command(mariadbd, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	// "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu ..."
	_, version, _ := strings.Cut(string(out), " Ver ")
	version, _, _ = strings.Cut(version, " ")
	port := testutil.FreePort(t)
	startServer(t, addrOf(port), exec.Command(mariadbd, "--no-defaults", "--datadir="+data, "--user=root",
		"--port="+strconv.Itoa(port), "--bind-address=127.0.0.1", "--socket="+filepath.Join(dir, "sock"),
		"--pid-file="+filepath.Join(dir, "pid"), "--skip-log-error"))
	r := probe(t, addrOf(port), Options{})
	if r.Service != ServiceMySQL || r.MySQL == nil || r.MySQL.Protocol != 10 || r.Product != "MariaDB "+version || r.MySQL.AuthPlugin == "" {
		t.Errorf("Probe(mariadbd) = %q, product %q, %+v; want mysql, MariaDB %s, protocol 10, an auth plugin", r.Service, r.Product, r.MySQL, version)
	}
}

func TestSambaDCERPC(t *testing.T) {
	if !testutil.InNamespaces(t) {
		return
	}
	testutil.StartSambaDcerpcd(t)
	r := probe(t, "127.0.0.1:135", Options{})
	if r.Service != ServiceDCERPC || r.DCERPC == nil || !r.DCERPC.Accepted || r.DCERPC.MapEntries == 0 || len(r.DCERPC.Interfaces) == 0 {
		t.Fatalf("Probe(samba-dcerpcd:135) = %q, %+v; want dcerpc, the endpoint mapper accepted, its map read", r.Service, r.DCERPC)
	}

	// A dynamic port: the map names the interfaces served there.
	entries, err := dcerpc.Lookup(t.Context(), "127.0.0.1:135", dcerpc.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var port uint16
	for _, e := range entries {
		if e.Protocol == dcerpc.ProtoTCP && e.Port != 135 && e.Port != 0 {
			port = e.Port
			break
		}
	}
	if port == 0 {
		t.Fatalf("the endpoint map lists no dynamic TCP port: %+v", entries)
	}
	r = probe(t, addrOf(int(port)), Options{})
	if r.Service != ServiceDCERPC || r.DCERPC == nil || len(r.DCERPC.Interfaces) == 0 {
		t.Errorf("Probe(samba-dcerpcd:%d) = %q, %+v; want dcerpc with the interfaces of the port", port, r.Service, r.DCERPC)
	}
}
