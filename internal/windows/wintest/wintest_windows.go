package wintest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/whobinds/whobinds/internal/testutil"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

// Service-specific exit codes of the test service, which InstallService
// reports when the service stops while starting.
const (
	exitListen = 1 // net.Listen failed
	exitTouch  = 2 // wine.Touch failed
)

// waitFor bounds every wait for the service control manager: starting and
// stopping the test service takes about 100 ms, natively and under Wine.
const waitFor = 10 * time.Second

// ServeIfService runs the process as the test service and exits when it was
// started as one (by InstallService, through the service control manager);
// otherwise it returns at once. Call it first thing in TestMain.
func ServeIfService() {
	if len(os.Args) < 4 || os.Args[1] != serviceArg {
		return
	}
	name, addr := os.Args[2], os.Args[3]
	if err := svc.Run(name, &service{name: name, addr: addr}); err != nil {
		fmt.Fprintf(os.Stderr, "wintest: running service %s: %v\n", name, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// service listens on addr and answers every connection with its name.
type service struct {
	name, addr string
}

func (s *service) Execute(args []string, r <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return true, exitListen
	}
	defer l.Close()
	if err := wine.Touch(l.(*net.TCPListener)); err != nil {
		return true, exitTouch
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed when the service stops
			}
			fmt.Fprintln(c, s.name)
			c.Close()
		}
	}()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for c := range r {
		switch c.Cmd {
		case svc.Interrogate:
			status <- c.CurrentStatus
		case svc.Stop, svc.Shutdown:
			status <- svc.Status{State: svc.StopPending}
			return false, 0
		}
	}
	return false, 0
}

// InstallService installs the running test executable as the demand-start
// service name, which listens on addr ("127.0.0.1:PORT"), starts it, waits
// until it runs and returns its PID. A service of that name left over from
// an earlier run is removed first. When the test ends, the service is
// stopped and deleted, and its process has exited.
//
// Installing services needs administrator rights on Windows: without them
// the test is skipped (it fails when WHOBINDS_REQUIRE_INTEGRATION=1).
func InstallService(t testing.TB, name, addr string) (pid int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable() = %v", err)
	}
	m, err := mgr.Connect()
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			testutil.Missing(t, "installing service %s needs administrator rights: %v", name, err)
		}
		t.Fatalf("connecting to the service control manager: %v", err)
	}
	t.Cleanup(func() { m.Disconnect() })

	if err := remove(m, name); err != nil {
		t.Fatalf("removing service %s left over from an earlier run: %v", name, err)
	}
	var s *mgr.Service
	cfg := mgr.Config{
		StartType:   mgr.StartManual,
		DisplayName: "whobinds test service " + name,
		Description: "Installed by a whobinds test; listens on " + addr + ". Safe to delete.",
	}
	for deadline := time.Now().Add(waitFor); ; {
		s, err = m.CreateService(name, exe, cfg, serviceArg, name, addr)
		if err == nil {
			break
		}
		// A deleted service lingers while someone holds a handle to it.
		if !errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE) && !errors.Is(err, windows.ERROR_SERVICE_EXISTS) || time.Now().After(deadline) {
			t.Fatalf("creating service %s: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var proc windows.Handle
	t.Cleanup(func() {
		if err := stopAndDelete(s); err != nil {
			t.Errorf("removing service %s: %v", name, err)
		}
		s.Close()
		if proc != 0 {
			if ev, err := windows.WaitForSingleObject(proc, uint32(waitFor/time.Millisecond)); ev != windows.WAIT_OBJECT_0 {
				t.Errorf("service %s: its process %d did not exit within %v (%v)", name, pid, waitFor, err)
			}
			windows.CloseHandle(proc)
		}
	})

	if err := s.Start(); err != nil {
		t.Fatalf("starting service %s: %v", name, err)
	}
	st, err := waitState(s, svc.Running)
	if err != nil {
		t.Fatalf("starting service %s: %v", name, err)
	}
	pid = int(st.ProcessId)
	if pid == 0 {
		t.Fatalf("service %s runs but reports PID 0", name)
	}
	proc, err = windows.OpenProcess(windows.SYNCHRONIZE, false, st.ProcessId)
	if err != nil {
		t.Fatalf("opening the process %d of service %s: %v", pid, name, err)
	}
	return pid
}

// waitState polls the service until it reaches want, stops, or waitFor
// passes.
func waitState(s *mgr.Service, want svc.State) (svc.Status, error) {
	deadline := time.Now().Add(waitFor)
	for {
		st, err := s.Query()
		if err != nil {
			return st, fmt.Errorf("querying its status: %w", err)
		}
		if st.State == want {
			return st, nil
		}
		if st.State == svc.Stopped {
			return st, fmt.Errorf("it stopped (exit code %d, service exit code %d)", st.Win32ExitCode, st.ServiceSpecificExitCode)
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("still in state %d after %v", st.State, waitFor)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// remove stops and deletes the service name if it exists.
func remove(m *mgr.Mgr, name string) error {
	s, err := m.OpenService(name)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return nil
	}
	if err != nil {
		return err
	}
	defer s.Close()
	return stopAndDelete(s)
}

// stopAndDelete stops the service (if it runs), waits until it has stopped
// and marks it for deletion.
func stopAndDelete(s *mgr.Service) error {
	if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return fmt.Errorf("stopping: %w", err)
	}
	if _, err := waitState(s, svc.Stopped); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	if err := s.Delete(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE) {
		return fmt.Errorf("deleting: %w", err)
	}
	return nil
}
