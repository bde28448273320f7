package portrange

// This file is the plumbing between running netsh and parsing its output,
// shared by every OS so that it is tested everywhere. netsh_windows.go
// supplies the runner that starts the real netsh.exe; netsh_others.go
// reports ErrNotSupported.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/whobinds/whobinds/internal/model"
)

// DefaultTimeout bounds a netsh run when the caller's context has no
// deadline.
const DefaultTimeout = 5 * time.Second

// runner runs netsh with args and returns what it wrote to standard output.
type runner func(ctx context.Context, args []string) ([]byte, error)

// excludedArgs are netsh's arguments for one protocol's and family's
// excluded ranges.
func excludedArgs(proto model.Proto, family int) []string {
	return []string{"interface", ipv(family), "show", "excludedportrange", "protocol=" + proto.String()}
}

// dynamicArgs are netsh's arguments for one protocol's and family's
// dynamic port range.
func dynamicArgs(proto model.Proto, family int) []string {
	return []string{"interface", ipv(family), "show", "dynamicport", proto.String()}
}

func excluded(ctx context.Context, run runner, proto model.Proto, family int) ([]Range, error) {
	if err := checkArgs(proto, family); err != nil {
		return nil, err
	}
	args := excludedArgs(proto, family)
	out, err := runBounded(ctx, run, args)
	if err != nil {
		return nil, err
	}
	ranges, err := ParseExcluded(string(out), proto, family)
	if err != nil {
		return nil, fmt.Errorf("netsh %s: %w", strings.Join(args, " "), err)
	}
	return ranges, nil
}

func dynamic(ctx context.Context, run runner, proto model.Proto, family int) (Range, error) {
	if err := checkArgs(proto, family); err != nil {
		return Range{}, err
	}
	args := dynamicArgs(proto, family)
	out, err := runBounded(ctx, run, args)
	if err != nil {
		return Range{}, err
	}
	r, err := ParseDynamic(string(out), proto, family)
	if err != nil {
		return Range{}, fmt.Errorf("netsh %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// runBounded runs netsh under ctx's deadline, or DefaultTimeout when ctx
// has none.
func runBounded(ctx context.Context, run runner, args []string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	return run(ctx, args)
}
