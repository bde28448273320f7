package portrange

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/model"
)

// Excluded runs "netsh interface ipv4|ipv6 show excludedportrange
// protocol=tcp|udp" for one protocol and family, under ctx's deadline
// (DefaultTimeout when it has none), and parses its output. It needs no
// elevation. Under Wine, whose netsh prints nothing, it returns
// ErrNoOutput: the ranges are unknown there.
func Excluded(ctx context.Context, proto model.Proto, family int) ([]Range, error) {
	return excluded(ctx, runNetsh, proto, family)
}

// Dynamic runs "netsh interface ipv4|ipv6 show dynamicport tcp|udp" for
// one protocol and family, under ctx's deadline (DefaultTimeout when it
// has none), and parses its output. Under Wine it returns ErrNoOutput.
func Dynamic(ctx context.Context, proto model.Proto, family int) (Range, error) {
	return dynamic(ctx, runNetsh, proto, family)
}

// runNetsh starts netsh.exe from the system directory, never through a
// shell and never from PATH, and returns its standard output.
func runNetsh(ctx context.Context, args []string) ([]byte, error) {
	dir, err := windows.GetSystemDirectory()
	if err != nil {
		return nil, fmt.Errorf("finding the system directory: %w", err)
	}
	path := filepath.Join(dir, "netsh.exe")
	cmd := exec.CommandContext(ctx, path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// No console window flashes up when a GUI process asks.
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: windows.CREATE_NO_WINDOW}
	// Do not wait for grandchildren that inherited the pipes.
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("running %s %v: %w", path, args, ctxErr)
	}
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return nil, fmt.Errorf("running %s: %w (run as administrator, or allow netsh.exe, to see the port ranges)", path, err)
		}
		msg := firstLine(decode(stdout.String()))
		if msg == "" {
			msg = firstLine(decode(stderr.String()))
		}
		if msg != "" {
			return nil, fmt.Errorf("running %s %v: %w: %s", path, args, err, clip(msg))
		}
		return nil, fmt.Errorf("running %s %v: %w", path, args, err)
	}
	return stdout.Bytes(), nil
}
