package wintest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/whobinds/whobinds/internal/testutil"
)

func TestMain(m *testing.M) {
	ServeIfService()
	os.Exit(m.Run())
}

func TestInstallService(t *testing.T) {
	const name = "WhobindsWintestSvc"
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	var pid int
	t.Run("running", func(t *testing.T) {
		pid = InstallService(t, name, addr)
		if pid <= 0 || pid == os.Getpid() {
			t.Fatalf("InstallService(%s) = PID %d; want the service's own process", name, pid)
		}
		m, err := mgr.Connect()
		if err != nil {
			t.Fatal(err)
		}
		defer m.Disconnect()
		s, err := m.OpenService(name)
		if err != nil {
			t.Fatalf("OpenService(%s) = %v", name, err)
		}
		defer s.Close()
		if st, err := s.Query(); err != nil || st.State != svc.Running || int(st.ProcessId) != pid {
			t.Errorf("Query(%s) = %+v, %v; want running with PID %d", name, st, err, pid)
		}
		// The service answers on addr with its name.
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dialing the service at %s: %v", addr, err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if got := strings.TrimSpace(line); err != nil || got != name {
			t.Errorf("service at %s said %q, %v; want %q", addr, got, err, name)
		}
	})
	if t.Failed() || pid == 0 {
		return
	}
	// The cleanup stopped and deleted the service, and its process exited.
	m, err := mgr.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(name); !errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		if err == nil {
			s.Close()
		}
		t.Errorf("OpenService(%s) after the test = %v; want ERROR_SERVICE_DOES_NOT_EXIST", name, err)
	}
	if h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid)); err == nil {
		if ev, _ := windows.WaitForSingleObject(h, 0); ev != windows.WAIT_OBJECT_0 {
			t.Errorf("the service's process %d still runs after the test", pid)
		}
		windows.CloseHandle(h)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("listening on %s after the service stopped: %v", addr, err)
	} else {
		l.Close()
	}
}

// TestServiceListenFails checks that a service that cannot listen fails
// InstallService with its reason instead of hanging.
func TestServiceListenFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m, err := mgr.Connect()
	if err != nil {
		testutil.Missing(t, "connecting to the service control manager needs administrator rights: %v", err)
	}
	defer m.Disconnect()
	const name = "WhobindsWintestBusy"
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := remove(m, name); err != nil {
		t.Fatal(err)
	}
	s, err := m.CreateService(name, exe, mgr.Config{StartType: mgr.StartManual}, serviceArg, name, l.Addr().String())
	if err != nil {
		t.Fatalf("creating service %s: %v", name, err)
	}
	defer func() {
		if err := stopAndDelete(s); err != nil {
			t.Errorf("removing service %s: %v", name, err)
		}
		s.Close()
	}()
	if err := s.Start(); err != nil {
		t.Fatalf("starting service %s: %v", name, err)
	}
	st, err := waitState(s, svc.Running)
	if err == nil || st.ServiceSpecificExitCode != exitListen {
		t.Errorf("waitState(%s, Running) = %+v, %v; want it stopped with service exit code %d (port %s is taken)", name, st, err, exitListen, l.Addr())
	}
}
