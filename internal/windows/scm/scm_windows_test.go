package scm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/testutil"
	"github.com/whobinds/whobinds/internal/windows/wine"
	"github.com/whobinds/whobinds/internal/windows/wintest"
)

func open(t *testing.T) *Manager {
	t.Helper()
	m, err := Open()
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return m
}

// statusPID asks QueryServiceStatusEx, independently of the enumeration,
// for the PID of a service.
func statusPID(t *testing.T, name string) (pid int, ok bool) {
	t.Helper()
	scm, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT)
	if err != nil {
		t.Fatalf("OpenSCManager: %v", err)
	}
	defer windows.CloseServiceHandle(scm)
	h, err := windows.OpenService(scm, windows.StringToUTF16Ptr(name), windows.SERVICE_QUERY_STATUS)
	if err != nil {
		return 0, false // gone since, or not ours to query
	}
	defer windows.CloseServiceHandle(h)
	var st windows.SERVICE_STATUS_PROCESS
	var needed uint32
	if err := windows.QueryServiceStatusEx(h, windows.SC_STATUS_PROCESS_INFO, (*byte)(unsafe.Pointer(&st)), uint32(unsafe.Sizeof(st)), &needed); err != nil {
		t.Fatalf("QueryServiceStatusEx(%s): %v", name, err)
	}
	return int(st.ProcessId), st.CurrentState == windows.SERVICE_RUNNING
}

func TestByPID(t *testing.T) {
	by, err := open(t).ByPID()
	if err != nil {
		t.Fatalf("ByPID() = %v", err)
	}
	var names []string
	most := 0
	for pid, ss := range by {
		if pid <= 0 || len(ss) == 0 {
			t.Errorf("ByPID()[%d] = %v; want a positive PID with services", pid, ss)
		}
		if !slices.IsSortedFunc(ss, func(a, b Service) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("ByPID()[%d] is not sorted by name: %v", pid, ss)
		}
		for _, s := range ss {
			names = append(names, s.Name)
			if s.PID != pid || s.Name == "" || s.State == stateStopped {
				t.Errorf("ByPID()[%d] has %+v; want a named active service with PID %d", pid, s, pid)
			}
			// Cross-check with QueryServiceStatusEx (a running service
			// keeps its PID; one that stopped meanwhile is skipped).
			if got, running := statusPID(t, s.Name); running && got != pid {
				t.Errorf("QueryServiceStatusEx(%s) PID = %d; ByPID says %d", s.Name, got, pid)
			}
		}
		most = max(most, len(ss))
	}
	t.Logf("%d processes host %d services; the most in one process: %d", len(by), len(names), most)
	if wine.Detected() {
		// Wine 8 runs rpcss.exe and plugplay.exe as services after wineboot.
		if !slices.Contains(names, "RpcSs") && !slices.Contains(names, "PlugPlay") {
			t.Errorf("ByPID() services = %v; want RpcSs or PlugPlay (Wine's own services)", names)
		}
		return
	}
	if len(by) == 0 {
		t.Fatal("ByPID() = empty; Windows always runs services")
	}
}

func TestInstalledService(t *testing.T) {
	const name = "WhobindsTestSvc"
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	pid := wintest.InstallService(t, name, addr)
	m := open(t)

	by, err := m.ByPID()
	if err != nil {
		t.Fatalf("ByPID() = %v", err)
	}
	i := slices.IndexFunc(by[pid], func(s Service) bool { return s.Name == name })
	if i < 0 {
		t.Fatalf("ByPID()[%d] = %v; want service %s", pid, by[pid], name)
	}
	want := Service{Name: name, DisplayName: "whobinds test service " + name, PID: pid, State: stateRunning, Type: typeWin32OwnProcess}
	if got := by[pid][i]; got != want {
		t.Errorf("ByPID()[%d] has %+v; want %+v", pid, got, want)
	}
	if by[pid][i].Shared() {
		t.Errorf("%s.Shared() = true; want false (own process)", name)
	}

	c, err := m.Config(name)
	if err != nil {
		t.Fatalf("Config(%q) = %v", name, err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args, err := windows.DecomposeCommandLine(c.BinaryPath)
	if err != nil || len(args) == 0 || !strings.EqualFold(args[0], exe) {
		t.Errorf("Config(%q).BinaryPath = %q; want the test executable %q first", name, c.BinaryPath, exe)
	}
	if c.StartType != "demand" {
		t.Errorf("Config(%q).StartType = %q; want demand", name, c.StartType)
	}
	if c.DisplayName != want.DisplayName {
		t.Errorf("Config(%q).DisplayName = %q; want %q", name, c.DisplayName, want.DisplayName)
	}
	if !strings.Contains(c.Description, "whobinds test") {
		t.Errorf("Config(%q).Description = %q; want the description InstallService set", name, c.Description)
	}
	if c.Account == "" {
		t.Errorf("Config(%q).Account is empty; want LocalSystem", name)
	}
}

func TestConfigSystemService(t *testing.T) {
	// RpcSs runs on every Windows and on Wine (rpcss.exe).
	c, err := open(t).Config("RpcSs")
	if err != nil {
		t.Fatalf(`Config("RpcSs") = %v`, err)
	}
	exe := "svchost.exe"
	if wine.Detected() {
		exe = "rpcss.exe"
	}
	if !strings.Contains(strings.ToLower(c.BinaryPath), exe) {
		t.Errorf(`Config("RpcSs").BinaryPath = %q; want %s`, c.BinaryPath, exe)
	}
	if !slices.Contains([]string{"boot", "system", "auto", "auto (delayed)", "demand", "disabled"}, c.StartType) {
		t.Errorf(`Config("RpcSs").StartType = %q; want a known start type`, c.StartType)
	}
	if c.DisplayName == "" {
		t.Errorf(`Config("RpcSs").DisplayName is empty`)
	}
	t.Logf("RpcSs: %+v", c)
}

func TestConfigMissing(t *testing.T) {
	const name = "WhobindsNoSuchService"
	_, err := open(t).Config(name)
	if !errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "no such service") {
		t.Errorf("Config(%q) = %v; want an error naming the service and saying it does not exist", name, err)
	}
}

func TestNameFromTag(t *testing.T) {
	if wine.Detected() {
		// Calling Wine's stub would abort this process: getting here
		// after the call shows it was not called.
		_, err := NameFromTag(uint32(os.Getpid()), 1)
		if !errors.Is(err, ErrNotAvailable) {
			t.Errorf("NameFromTag under Wine = %v; want ErrNotAvailable", err)
		}
		return
	}
	by, err := open(t).ByPID()
	if err != nil {
		t.Fatalf("ByPID() = %v", err)
	}
	pid, tag, ok := taggedListener(t)
	if !ok {
		t.Fatal("no listening TCP socket carries a service tag; Windows' own services (RpcEptMapper on 135) always do")
	}
	name, err := NameFromTag(pid, tag)
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		testutil.Missing(t, "resolving service tags needs administrator rights here: %v", err)
	}
	if err != nil {
		t.Fatalf("NameFromTag(%d, %d) = %v", pid, tag, err)
	}
	if !slices.ContainsFunc(by[int(pid)], func(s Service) bool { return strings.EqualFold(s.Name, name) }) {
		t.Errorf("NameFromTag(%d, %d) = %q; want one of the services of PID %d: %v", pid, tag, name, pid, by[int(pid)])
	}
	if _, err := NameFromTag(pid, 0); err == nil {
		t.Errorf("NameFromTag(%d, 0) = nil error; want an error (tag 0 is no service)", pid)
	}
}

// taggedListener finds a listening IPv4 TCP socket whose creator carries a
// service tag, straight from GetExtendedTcpTable(TCP_TABLE_OWNER_MODULE_LISTENER):
// a DWORD count, then at offset 8 rows of MIB_TCPROW_OWNER_MODULE (160
// bytes: dwOwningPid at 20, OwningModuleInfo[0], the tag, at 32).
func taggedListener(t *testing.T) (pid, tag uint32, ok bool) {
	t.Helper()
	proc := windows.NewLazySystemDLL("iphlpapi.dll").NewProc("GetExtendedTcpTable")
	if err := proc.Find(); err != nil {
		t.Fatalf("GetExtendedTcpTable: %v", err)
	}
	const ownerModuleListener, rowSize = 6, 160
	size := uint32(64 << 10)
	for range 8 {
		buf := make([]uint64, size/8)
		r, _, _ := proc.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0, windows.AF_INET, ownerModuleListener, 0)
		if r == uintptr(windows.ERROR_INSUFFICIENT_BUFFER) {
			size += 8 << 10
			continue
		}
		if r != 0 {
			t.Fatalf("GetExtendedTcpTable = %v", windows.Errno(r))
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8)
		n := int(binary.LittleEndian.Uint32(b))
		for i := range n {
			row := b[8+i*rowSize : 8+(i+1)*rowSize]
			pid, tag := binary.LittleEndian.Uint32(row[20:]), binary.LittleEndian.Uint32(row[32:])
			if pid > 4 && tag != 0 {
				return pid, tag, true
			}
		}
		return 0, 0, false
	}
	t.Fatal("GetExtendedTcpTable: the table kept growing")
	return 0, 0, false
}
