package winproc

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/model"
)

// ptrSize is the size of a pointer in the buffers the system fills for this
// process.
const ptrSize = int(unsafe.Sizeof(uintptr(0)))

// List takes a Toolhelp32 snapshot of every process: PID, parent PID and
// executable name. It needs no rights.
func List() (map[int]Entry, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, fmt.Errorf("taking a process snapshot: %w", err)
	}
	defer windows.CloseHandle(snap)
	all := make(map[int]Entry)
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		pid := int(e.ProcessID)
		all[pid] = Entry{PID: pid, PPID: int(e.ParentProcessID), Name: windows.UTF16ToString(e.ExeFile[:])}
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return nil, fmt.Errorf("reading the process snapshot: %w", err)
	}
	return all, nil
}

// Details says what can be read about process pid. all is a snapshot from
// List (nil takes one); it gives the name, the parent and the parent chain.
// The executable path, the command line, the user and the start time need
// PROCESS_QUERY_LIMITED_INFORMATION, which an unelevated user lacks for
// some processes of other users; each one that cannot be read is named in
// Unreadable with the reason. PID 0 (System Idle Process) and PID 4 (System)
// have only names.
func Details(pid int, all map[int]Entry) *model.Process {
	p := &model.Process{PID: pid}
	switch pid {
	case pidIdle:
		p.Name = "System Idle Process"
		return p
	case pidSystem:
		p.Name = "System"
		return p
	}
	if all == nil {
		var err error
		if all, err = List(); err != nil {
			p.Unreadable = append(p.Unreadable, unreadable("name and parent", err))
		}
	}
	e, inSnapshot := all[pid]
	if inSnapshot {
		p.Name, p.PPID = e.Name, e.PPID
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		p.Unreadable = append(p.Unreadable, "process: no such process (it exited, or the PID was never used)")
		return p
	}
	if err != nil {
		for _, what := range []string{"exe", "cmdline", "user", "start"} {
			p.Unreadable = append(p.Unreadable, unreadable(what, err))
		}
	} else {
		defer windows.CloseHandle(h)
		if p.Exe, err = exe(h); err != nil {
			p.Unreadable = append(p.Unreadable, unreadable("exe", err))
		}
		if p.Cmdline, err = cmdline(pid, h); err != nil {
			p.Unreadable = append(p.Unreadable, unreadable("cmdline", err))
		}
		if p.User, err = tokenUser(h); err != nil {
			p.Unreadable = append(p.Unreadable, unreadable("user", err))
		}
		if p.Start, err = creationTime(h); err != nil {
			p.Unreadable = append(p.Unreadable, unreadable("start", err))
		}
	}
	if p.Name == "" && p.Exe != "" {
		p.Name = p.Exe[strings.LastIndexAny(p.Exe, `\/`)+1:]
	}
	p.Ancestors = ancestors(pid, p.Start, all, inspect)
	return p
}

// inspect reads what ancestors needs of a process, or zero values.
func inspect(pid int) (time.Time, []string) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return time.Time{}, nil
	}
	defer windows.CloseHandle(h)
	start, _ := creationTime(h)
	cmd, _ := cmdline(pid, h)
	return start, cmd
}

// CreationTime returns when process pid was created; with the PID it
// identifies the process across PID reuse.
func CreationTime(pid int) (time.Time, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return time.Time{}, fmt.Errorf("opening process %d: %w", pid, denied(err))
	}
	defer windows.CloseHandle(h)
	t, err := creationTime(h)
	if err != nil {
		return time.Time{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return t, nil
}

func creationTime(h windows.Handle) (time.Time, error) {
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return time.Time{}, fmt.Errorf("GetProcessTimes: %w", err)
	}
	return time.Unix(0, created.Nanoseconds()), nil
}

// exe returns the full Win32 path of the process's executable.
func exe(h windows.Handle) (string, error) {
	buf := make([]uint16, windows.MAX_PATH)
	for {
		n := uint32(len(buf))
		err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n)
		if err == nil {
			return windows.UTF16ToString(buf[:n]), nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || len(buf) >= 1<<15 {
			return "", fmt.Errorf("QueryFullProcessImageName: %w", err)
		}
		buf = make([]uint16, 2*len(buf))
	}
}

// cmdline reads the command line of process pid (open as h) and splits it
// as CommandLineToArgvW does.
func cmdline(pid int, h windows.Handle) ([]string, error) {
	s, err := cmdlineNT(h)
	if errors.Is(err, windows.STATUS_INVALID_INFO_CLASS) {
		s, err = cmdlineMemory(pid)
	}
	if err != nil {
		return nil, err
	}
	args, err := windows.DecomposeCommandLine(s)
	if err != nil {
		return nil, fmt.Errorf("splitting the command line %q: %w", s, err)
	}
	return args, nil
}

// cmdlineNT reads the command line with
// NtQueryInformationProcess(ProcessCommandLineInformation), which needs only
// PROCESS_QUERY_LIMITED_INFORMATION. Windows before 8.1 and Wine 8 fail
// with STATUS_INVALID_INFO_CLASS.
func cmdlineNT(h windows.Handle) (string, error) {
	size := 1024
	for range 4 {
		u := make([]uint64, size/8)
		buf := unsafe.Slice((*byte)(unsafe.Pointer(&u[0])), size)
		var n uint32
		err := windows.NtQueryInformationProcess(h, windows.ProcessCommandLineInformation, unsafe.Pointer(&buf[0]), uint32(len(buf)), &n)
		switch {
		case err == nil:
			s, err := decodeUnicodeString(buf, uint64(uintptr(unsafe.Pointer(&buf[0]))), ptrSize)
			if err != nil {
				return "", fmt.Errorf("command line: %w", err)
			}
			return s, nil
		case errors.Is(err, windows.STATUS_INFO_LENGTH_MISMATCH), errors.Is(err, windows.STATUS_BUFFER_TOO_SMALL), errors.Is(err, windows.STATUS_BUFFER_OVERFLOW):
			size = max(2*size, int(n)+7) &^ 7
		default:
			return "", fmt.Errorf("NtQueryInformationProcess(ProcessCommandLineInformation): %w", ntError(err))
		}
	}
	return "", errors.New("NtQueryInformationProcess(ProcessCommandLineInformation): the needed size kept growing")
}

// cmdlineMemory reads the command line from the process's PEB, which needs
// PROCESS_QUERY_INFORMATION|PROCESS_VM_READ.
func cmdlineMemory(pid int) (string, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_INFORMATION|windows.PROCESS_VM_READ, false, uint32(pid))
	if err != nil {
		return "", fmt.Errorf("opening the process to read its memory: %w", err)
	}
	defer windows.CloseHandle(h)
	// PROCESS_BASIC_INFORMATION: ExitStatus, PebBaseAddress, AffinityMask,
	// BasePriority, UniqueProcessId, InheritedFromUniqueProcessId, each
	// pointer-sized (with padding). Read as bytes: the PEB address belongs to
	// the other process and must not sit in a Go pointer.
	var pbi [6]uintptr
	var n uint32
	if err := windows.NtQueryInformationProcess(h, windows.ProcessBasicInformation, unsafe.Pointer(&pbi[0]), uint32(unsafe.Sizeof(pbi)), &n); err != nil {
		return "", fmt.Errorf("NtQueryInformationProcess(ProcessBasicInformation): %w", ntError(err))
	}
	read := func(addr uint64, n int) ([]byte, error) {
		b := make([]byte, n)
		if n == 0 {
			return b, nil
		}
		var got uintptr
		if err := windows.ReadProcessMemory(h, uintptr(addr), &b[0], uintptr(n), &got); err != nil {
			return nil, fmt.Errorf("ReadProcessMemory(%#x, %d): %w", addr, n, err)
		}
		return b[:got], nil
	}
	return cmdlineFromPEB(read, uint64(pbi[1]), ptrSize)
}

// ntError turns an NTSTATUS into an error that matches both the NTSTATUS
// and its Win32 error, so that access denied matches fs.ErrPermission.
// Other errors are returned as they are.
func ntError(err error) error {
	var st windows.NTStatus
	if !errors.As(err, &st) {
		return err
	}
	return ntStatusError{st}
}

type ntStatusError struct{ st windows.NTStatus }

func (e ntStatusError) Error() string {
	return fmt.Sprintf("%v (NTSTATUS %#x)", e.st.Errno(), uint32(e.st))
}

func (e ntStatusError) Unwrap() []error { return []error{e.st, e.st.Errno()} }

// tokenUser names the account of the process's token as DOMAIN\user, or gives
// its SID when the account has no name.
func tokenUser(h windows.Handle) (string, error) {
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return "", fmt.Errorf("OpenProcessToken: %w", err)
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("reading the token user: %w", err)
	}
	account, domain, _, err := tu.User.Sid.LookupAccount("")
	if err != nil {
		return tu.User.Sid.String(), nil
	}
	if domain == "" {
		return account, nil
	}
	return domain + `\` + account, nil
}

// denied adds what the user can do to an access-denied error.
func denied(err error) error {
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return fmt.Errorf("%w (run as administrator to see it)", err)
	}
	return err
}
