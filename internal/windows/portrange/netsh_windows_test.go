package portrange

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

var families = []struct {
	proto  model.Proto
	family int
}{
	{model.TCP, 4}, {model.TCP, 6}, {model.UDP, 4}, {model.UDP, 6},
}

// TestExcludedRealNetsh runs the system's netsh.exe. Wine 8's netsh is a
// stub that prints nothing, which must read as "unknown" (ErrNoOutput),
// never as "no ranges"; real Windows must give a table.
func TestExcludedRealNetsh(t *testing.T) {
	for _, tt := range families {
		t.Run(fmt.Sprintf("%v-ipv%d", tt.proto, tt.family), func(t *testing.T) {
			ranges, err := Excluded(context.Background(), tt.proto, tt.family)
			if wine.Detected() {
				if !errors.Is(err, ErrNoOutput) {
					t.Fatalf("Excluded(%v, %d) under Wine = %v, %v; want ErrNoOutput (Wine's netsh prints nothing)",
						tt.proto, tt.family, ranges, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Excluded(%v, %d) = %v", tt.proto, tt.family, err)
			}
			for _, r := range ranges {
				if r.Proto != tt.proto || r.Family != tt.family || r.First == 0 || r.First > r.Last {
					t.Errorf("Excluded(%v, %d) gave %+v", tt.proto, tt.family, r)
				}
			}
			t.Logf("%d ranges: %v", len(ranges), ranges)
		})
	}
}

func TestDynamicRealNetsh(t *testing.T) {
	for _, tt := range families {
		t.Run(fmt.Sprintf("%v-ipv%d", tt.proto, tt.family), func(t *testing.T) {
			r, err := Dynamic(context.Background(), tt.proto, tt.family)
			if wine.Detected() {
				if !errors.Is(err, ErrNoOutput) {
					t.Fatalf("Dynamic(%v, %d) under Wine = %v, %v; want ErrNoOutput (Wine's netsh prints nothing)",
						tt.proto, tt.family, r, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dynamic(%v, %d) = %v", tt.proto, tt.family, err)
			}
			// netsh refuses fewer than 255 ports; the start is 1025 or
			// more when set with netsh, but images have shown 1024
			// (actions/runner-images#1442).
			if r.First < 1024 || r.Len() < 255 || r.Administered || r.Proto != tt.proto || r.Family != tt.family {
				t.Errorf("Dynamic(%v, %d) = %+v (%d ports); want a range of at least 255 ports from 1024 up", tt.proto, tt.family, r, r.Len())
			}
			t.Logf("dynamic range %v", r)
		})
	}
}

func TestRealNetshDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Dynamic(ctx, model.TCP, 4); !errors.Is(err, context.Canceled) {
		t.Errorf("Dynamic(canceled ctx) = %v; want context.Canceled", err)
	}
}
