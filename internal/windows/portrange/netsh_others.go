//go:build !windows

package portrange

import (
	"context"
	"fmt"
	"runtime"

	"github.com/whobinds/whobinds/internal/model"
)

// Excluded reads the excluded port ranges on Windows; on this operating
// system it returns an error wrapping ErrNotSupported.
func Excluded(ctx context.Context, proto model.Proto, family int) ([]Range, error) {
	return nil, fmt.Errorf("reading excluded port ranges with netsh works on Windows only, not on %s: %w", runtime.GOOS, ErrNotSupported)
}

// Dynamic reads the dynamic port range on Windows; on this operating
// system it returns an error wrapping ErrNotSupported.
func Dynamic(ctx context.Context, proto model.Proto, family int) (Range, error) {
	return Range{}, fmt.Errorf("reading the dynamic port range with netsh works on Windows only, not on %s: %w", runtime.GOOS, ErrNotSupported)
}
