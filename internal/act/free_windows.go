package act

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
)

func init() {
	newFreeOS = func() freeOS { return windowsFree{} }
}

// windowsFree frees ports on Windows: services through the service
// control manager, with only the rights stopping needs; processes through
// a handle whose creation time must match the snapshot's. Windows has no
// graceful way to end another process (taskkill without /F only posts
// WM_CLOSE to windows), so a plan ends processes with TerminateProcess
// only with --force; services are the way to stop what holds a port.
type windowsFree struct{}

func (windowsFree) gather(ctx context.Context, snap *model.Snapshot) FreeFacts {
	return FreeFacts{Self: os.Getpid()}
}

func (windowsFree) stop(ctx context.Context, s Step) error {
	if s.Kind != StopService {
		return fmt.Errorf("%s %s: %w on windows", s.Kind, s.Name, engine.ErrNotSupported)
	}
	m, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT)
	if err != nil {
		return fmt.Errorf("opening the service control manager: %w", err)
	}
	defer windows.CloseServiceHandle(m)
	name, err := windows.UTF16PtrFromString(s.Name)
	if err != nil {
		return fmt.Errorf("service %q: %w", s.Name, err)
	}
	h, err := windows.OpenService(m, name, windows.SERVICE_STOP|windows.SERVICE_QUERY_STATUS|windows.SERVICE_QUERY_CONFIG|windows.SERVICE_CHANGE_CONFIG)
	if err != nil {
		return fmt.Errorf("opening service %s: %w", s.Name, err)
	}
	sv := &mgr.Service{Name: s.Name, Handle: h}
	defer sv.Close()
	if _, err := sv.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return fmt.Errorf("stopping service %s: %w", s.Name, err)
	}
	for {
		st, err := sv.Query()
		if err != nil {
			return fmt.Errorf("querying service %s: %w", s.Name, err)
		}
		if st.State == svc.Stopped {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s did not stop: %w", s.Name, ctx.Err())
		case <-time.After(freePoll):
		}
	}
	c, err := sv.Config()
	if err != nil {
		return fmt.Errorf("reading the start type of service %s: %w", s.Name, err)
	}
	if c.StartType == windows.SERVICE_AUTO_START {
		err := windows.ChangeServiceConfig(h, windows.SERVICE_NO_CHANGE, windows.SERVICE_DEMAND_START, windows.SERVICE_NO_CHANGE, nil, nil, nil, nil, nil, nil, nil)
		if err != nil {
			return fmt.Errorf("service %s stopped, but setting it to start on demand: %w", s.Name, err)
		}
	}
	return nil
}

// open opens the process with the rights to end and wait for it, then
// compares its creation time with the snapshot's: a handle pins the
// process, so the one checked is the one ended.
func (windowsFree) open(s Step) (freeProc, error) {
	if s.Start.IsZero() {
		return nil, fmt.Errorf("the creation time of pid %d is unknown", s.PID)
	}
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE|windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE, false, uint32(s.PID))
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		return nil, errFreeGone // no such process
	}
	if err != nil {
		return nil, fmt.Errorf("opening pid %d: %w", s.PID, err)
	}
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("reading the creation time of pid %d: %w", s.PID, err)
	}
	if start := time.Unix(0, created.Nanoseconds()); !start.Equal(s.Start) {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("pid %d is now a process created at %s, not %s: %w", s.PID, start.Format(time.RFC3339Nano), s.Start.Format(time.RFC3339Nano), errFreeReused)
	}
	if ev, _ := windows.WaitForSingleObject(h, 0); ev == windows.WAIT_OBJECT_0 {
		windows.CloseHandle(h)
		return nil, errFreeGone
	}
	return &freeWinProc{h: h, pid: s.PID}, nil
}

type freeWinProc struct {
	h   windows.Handle
	pid int
}

// terminate is TerminateProcess: the plan only ends processes on Windows
// with --force.
func (p *freeWinProc) terminate() error {
	if err := windows.TerminateProcess(p.h, 1); err != nil {
		if ev, _ := windows.WaitForSingleObject(p.h, 0); ev == windows.WAIT_OBJECT_0 {
			return errFreeGone
		}
		return fmt.Errorf("TerminateProcess(pid %d): %w", p.pid, err)
	}
	return nil
}

func (p *freeWinProc) kill() error { return p.terminate() }

func (p *freeWinProc) wait(deadline time.Time) bool {
	ms := max(time.Until(deadline).Milliseconds(), 0)
	ev, err := windows.WaitForSingleObject(p.h, uint32(min(ms, windows.INFINITE-1)))
	return err == nil && ev == windows.WAIT_OBJECT_0
}

func (p *freeWinProc) close() { windows.CloseHandle(p.h) }

// children is not needed to see a respawn on Windows: the settle wait
// sees the port taken again.
func (windowsFree) children(int) []freeChild { return nil }
