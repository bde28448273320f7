//go:build !windows

package portrange

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/whobinds/whobinds/internal/model"
)

func TestNotSupported(t *testing.T) {
	if _, err := Excluded(context.Background(), model.TCP, 4); !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), runtime.GOOS) {
		t.Errorf("Excluded(tcp, 4) = %v; want ErrNotSupported naming %s", err, runtime.GOOS)
	}
	if _, err := Dynamic(context.Background(), model.TCP, 4); !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), runtime.GOOS) {
		t.Errorf("Dynamic(tcp, 4) = %v; want ErrNotSupported naming %s", err, runtime.GOOS)
	}
}
