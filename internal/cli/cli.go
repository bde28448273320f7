// Package cli is the whobinds command line: one file per command, each an
// Options struct filled from flags and a run function. Main maps errors to
// the documented exit codes (docs/cli.md); nothing else in the program
// knows about them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/whobinds/whobinds/internal/engine"
)

// Exit codes, as product.md and docs/cli.md define them.
const (
	ExitOK        = 0 // found / done
	ExitNoMatch   = 1 // nothing matched: the port is free
	ExitUsage     = 2 // usage error
	ExitRefused   = 3 // an action was refused or did not complete
	ExitOSFailure = 4 // the operating system could not be queried
)

// usageError marks errors caused by the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// noMatchError means the query matched nothing; its text goes to stderr.
type noMatchError struct{ msg string }

func (e noMatchError) Error() string { return e.msg }

// refusedError means an action was refused or did not complete; its text
// goes to stderr.
type refusedError struct{ msg string }

func (e refusedError) Error() string { return e.msg }

// IO is what a command may touch of the outside world.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// TTY is true when Out is a terminal; Color when colour is wanted.
	TTY, Color bool
	// Width is the terminal width, 0 when unknown.
	Width int
	// Program says how to name this program in hints ("whobinds"); it is
	// only called when a hint is printed.
	Program func() string
}

func newIO(stdin io.Reader, stdout, stderr io.Writer) *IO {
	o := &IO{In: stdin, Out: stdout, Err: stderr, Program: programName}
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.TTY = true
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			o.Width = w
		}
		_, noColor := os.LookupEnv("NO_COLOR")
		o.Color = !noColor && os.Getenv("TERM") != "dumb"
	}
	return o
}

// programName is "whobinds" when that is what PATH finds, else the path of
// this executable, so that hints can be pasted as they are.
func programName() string {
	exe, err := os.Executable()
	if err != nil {
		return "whobinds"
	}
	if p, err := exec.LookPath("whobinds"); err == nil {
		if a, err1 := filepath.EvalSymlinks(p); err1 == nil {
			if b, err2 := filepath.EvalSymlinks(exe); err2 == nil && a == b {
				return "whobinds"
			}
		}
	}
	return exe
}

// Main runs whobinds with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	io := newIO(stdin, stdout, stderr)
	root := newRootCmd(io)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	msg := err.Error()
	if code == ExitUsage && !strings.Contains(msg, "--help") {
		path := "whobinds"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		msg += " (see " + path + " --help)"
	}
	var rm rpcMapError
	if errors.As(err, &rm) {
		// One line per map that could not be read.
		for _, e := range rm.errs {
			fmt.Fprintf(stderr, "whobinds: %s\n", oneLine(e.Error()))
		}
		return code
	}
	fmt.Fprintf(stderr, "whobinds: %s\n", oneLine(msg))
	return code
}

func exitCode(err error) int {
	var ue usageError
	var nm noMatchError
	var re refusedError
	switch {
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &nm):
		return ExitNoMatch
	case errors.As(err, &re):
		return ExitRefused
	case errors.Is(err, engine.ErrQuery), errors.Is(err, engine.ErrNotSupported):
		return ExitOSFailure
	case errors.Is(err, context.Canceled):
		return ExitOSFailure
	}
	return ExitOSFailure
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// flagErrors turns cobra's and pflag's complaints into usage errors.
func flagErrors(c *cobra.Command, err error) error { return usageError{err} }

// usageArgs makes cobra's argument checks report usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
