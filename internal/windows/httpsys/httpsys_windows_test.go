package httpsys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/testutil"
	"github.com/whobinds/whobinds/internal/windows/wine"
	"github.com/whobinds/whobinds/internal/windows/wintest"
)

// registerTestURL registers http://127.0.0.1:PORT/whobinds-test/ on a free
// port for the rest of the test.
func registerTestURL(t *testing.T) (url string, port int) {
	t.Helper()
	port = testutil.FreePort(t)
	url = fmt.Sprintf("http://127.0.0.1:%d/whobinds-test/", port)
	wintest.RegisterURL(t, url)
	return url, port
}

// A registered URL makes http.sys listen on its port, and a GET for it is
// accepted and handed to the queue (where it waits: nobody receives). Once
// the registration is cleaned up, the port is free again.
func TestRegisterURLListens(t *testing.T) {
	var addr string
	ok := t.Run("registered", func(t *testing.T) {
		url, port := registerTestURL(t)
		addr = fmt.Sprintf("127.0.0.1:%d", port)
		checkListens(t, url, port)
	})
	if !ok || addr == "" {
		return // skipped or failed: nothing to release
	}
	// http.sys closes the listener when the last URL on its port goes;
	// allow it a moment.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("net.Dial(%s) still connects after the URL was unregistered", addr)
		}
	}
}

func checkListens(t *testing.T, url string, port int) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("net.Dial(%s) after registering %s = %v; want a connection", addr, url, err)
	}
	c.Close()

	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	var ne net.Error
	switch {
	case err == nil:
		resp.Body.Close()
		t.Logf("GET %s = %s (server %q)", url, resp.Status, resp.Header.Get("Server"))
	case errors.As(err, &ne) && ne.Timeout():
		t.Logf("GET %s waits in the request queue, as it should with nobody receiving", url)
	default:
		t.Fatalf("GET %s = %v; want a response or a request left waiting in the queue", url, err)
	}

	if wine.Detected() {
		return // Wine's http.sys leaves unrouted requests waiting too
	}
	// On Windows, http.sys itself answers a path nobody registered.
	other := fmt.Sprintf("http://127.0.0.1:%d/not-registered/", port)
	resp, err = client.Get(other)
	if err != nil {
		t.Fatalf("GET %s = %v; want http.sys's 404", other, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.Header.Get("Server"), "HTTPAPI") {
		t.Errorf("GET %s = %s, Server %q; want 404 from Microsoft-HTTPAPI", other, resp.Status, resp.Header.Get("Server"))
	}
}

// Under Wine 8 neither source of the service state exists, and ServiceState
// must say "unknown", not "no queues". On Windows, elevated, it lists the
// queue this test registered, with this process attached.
func TestServiceState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if wine.Detected() {
		wintest.RegisterURL(t, fmt.Sprintf("http://127.0.0.1:%d/whobinds-test/", testutil.FreePort(t)))
		st, err := ServiceState(ctx)
		if err == nil {
			t.Fatalf("ServiceState() = %+v, nil under Wine; want an error (Wine 8 has neither the IOCTL device nor a working netsh)", st)
		}
		if !errors.Is(err, ErrNotAvailable) || !errors.Is(err, ErrNoOutput) {
			t.Errorf("ServiceState() = %v under Wine; want it to wrap ErrNotAvailable (IOCTL) and ErrNoOutput (netsh)", err)
		}
		t.Logf("ServiceState() under Wine = %v", err)
		return
	}
	if !windows.GetCurrentProcessToken().IsElevated() {
		testutil.Missing(t, "reading the http.sys service state needs administrator rights")
	}
	url, port := registerTestURL(t)
	st, err := ServiceState(ctx)
	if err != nil {
		t.Fatalf("ServiceState() = %v", err)
	}
	t.Logf("ServiceState() source %s, %d queues", st.Source, len(st.Queues))
	for _, q := range st.Queues {
		for _, u := range q.URLs {
			if p, ok := URLPort(u); !ok || p != port || !strings.Contains(strings.ToUpper(u), "/WHOBINDS-TEST/") {
				continue
			}
			for _, p := range q.Processes {
				if p.PID == os.Getpid() {
					if exe, _ := os.Executable(); !strings.EqualFold(filepath.Base(p.Image), filepath.Base(exe)) {
						t.Errorf("queue of %s: process %d has image %q; want %s", url, p.PID, p.Image, exe)
					}
					return
				}
			}
			t.Fatalf("queue of %s (%+v) does not list this process (PID %d)", url, q, os.Getpid())
		}
	}
	t.Fatalf("ServiceState() (source %s) has no queue with %s: %+v", st.Source, url, st.Queues)
}

// The two sources one by one, under Wine: the device is missing, netsh says
// nothing.
func TestServiceStateSourcesUnderWine(t *testing.T) {
	if !wine.Detected() {
		t.Skip("checks what Wine 8 lacks; TestServiceState covers Windows")
	}
	if _, err := readServiceState(); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("readServiceState() = %v under Wine; want an error wrapping ErrNotAvailable", err)
	}
	if _, err := runNetsh(context.Background()); !errors.Is(err, ErrNoOutput) {
		t.Errorf("runNetsh() = %v under Wine; want an error wrapping ErrNoOutput", err)
	}
}

// The configuration store: under Wine 8 HttpQueryServiceConfiguration is a
// stub, so each query must report ErrNotAvailable rather than an empty
// store; on Windows the queries succeed and the URL reservations include
// the ones every Windows ships.
func TestConfigStore(t *testing.T) {
	t.Run("URLACLs", func(t *testing.T) {
		acls, err := URLACLs()
		if wine.Detected() {
			if !errors.Is(err, ErrNotAvailable) {
				t.Fatalf("URLACLs() = %v, %v under Wine; want an error wrapping ErrNotAvailable", acls, err)
			}
			t.Logf("URLACLs() under Wine = %v", err)
			return
		}
		if err != nil {
			t.Fatalf("URLACLs() = %v", err)
		}
		if len(acls) == 0 {
			t.Fatalf("URLACLs() = none; want Windows' default reservations")
		}
		for _, a := range acls {
			if _, ok := URLPort(a.Prefix); !ok || !strings.HasPrefix(a.SDDL, "D:") {
				t.Errorf("URLACLs() has %+v; want a URL prefix and an SDDL string", a)
			}
		}
	})
	t.Run("SSLCerts", func(t *testing.T) {
		certs, err := SSLCerts()
		if wine.Detected() {
			if !errors.Is(err, ErrNotAvailable) {
				t.Fatalf("SSLCerts() = %v, %v under Wine; want an error wrapping ErrNotAvailable", certs, err)
			}
			t.Logf("SSLCerts() under Wine = %v", err)
			return
		}
		if err != nil {
			t.Fatalf("SSLCerts() = %v", err)
		}
		for _, c := range certs {
			if !c.Addr.IsValid() || len(c.AppID) != 38 {
				t.Errorf("SSLCerts() has %+v; want an address and an application ID", c)
			}
		}
		t.Logf("SSLCerts() = %d bindings", len(certs))
	})
	t.Run("IPListen", func(t *testing.T) {
		addrs, err := IPListen()
		if wine.Detected() {
			if !errors.Is(err, ErrNotAvailable) {
				t.Fatalf("IPListen() = %v, %v under Wine; want an error wrapping ErrNotAvailable", addrs, err)
			}
			t.Logf("IPListen() under Wine = %v", err)
			return
		}
		if err != nil {
			t.Fatalf("IPListen() = %v", err)
		}
		t.Logf("IPListen() = %v", addrs)
	})
}

func TestProcessImage(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got := processImage(os.Getpid()); !strings.EqualFold(filepath.Base(got), filepath.Base(exe)) {
		t.Errorf("processImage(%d) = %q; want the path of %s", os.Getpid(), got, filepath.Base(exe))
	}
	if got := processImage(0x7ffffffc); got != "" {
		t.Errorf("processImage(no such process) = %q; want \"\"", got)
	}
}
