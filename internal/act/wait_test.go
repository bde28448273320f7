package act

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
	"github.com/whobinds/whobinds/internal/testutil"
	"github.com/whobinds/whobinds/internal/windows/wine"
)

func tcpTarget(port int) target.Target {
	return target.Target{Proto: model.TCP, Lo: uint16(port), Hi: uint16(port)}
}

// scriptedCollect answers polls from a list of socket tables, repeating
// the last one, and records the queries.
type scriptedCollect struct {
	tables  [][]model.Socket
	queries []engine.Query
}

func (s *scriptedCollect) collect(ctx context.Context, q engine.Query) (*model.Snapshot, error) {
	i := min(len(s.queries), len(s.tables)-1)
	s.queries = append(s.queries, q)
	return &model.Snapshot{Sockets: s.tables[i]}, nil
}

func TestWaitScripted(t *testing.T) {
	lst := model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:8080"), State: model.Listen}
	other := model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("127.0.0.1:8081"), State: model.Listen}
	tw := model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("127.0.0.1:8080"), State: model.TimeWait}
	lo := model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("127.0.0.1:8080"), State: model.Listen}
	tests := []struct {
		name      string
		target    target.Target
		until     WaitUntil
		tables    [][]model.Socket
		wantMet   bool
		wantPolls int
	}{
		{"listening at the third poll", tcpTarget(8080), UntilListening, [][]model.Socket{nil, {other}, {lst}}, true, 3},
		{"free at once", tcpTarget(8080), UntilFree, [][]model.Socket{{tw, other}}, true, 1},
		{"free at the second poll", tcpTarget(8080), UntilFree, [][]model.Socket{{lst}, nil}, true, 2},
		{"a wildcard listener serves an address", target.Target{Proto: model.TCP, Addr: netip.MustParseAddr("10.1.2.3"), Lo: 8080, Hi: 8080},
			UntilListening, [][]model.Socket{{lst}}, true, 1},
		{"a loopback listener does not serve another address", target.Target{Proto: model.TCP, Addr: netip.MustParseAddr("10.1.2.3"), Lo: 8080, Hi: 8080},
			UntilFree, [][]model.Socket{{lo}}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scriptedCollect{tables: tt.tables}
			res, err := Wait(context.Background(), WaitRequest{Target: tt.target, Until: tt.until, Interval: time.Millisecond, Collect: sc.collect})
			if err != nil {
				t.Fatal(err)
			}
			if res.Met != tt.wantMet || res.Polls != tt.wantPolls {
				t.Errorf("Wait = met %v after %d polls; want %v after %d", res.Met, res.Polls, tt.wantMet, tt.wantPolls)
			}
			for _, q := range sc.queries {
				if !q.SocketsOnly || !q.SkipRPC || len(q.Targets) != 1 || q.Targets[0] != tt.target || q.AllStates {
					t.Errorf("query %+v; want the listeners of %v only, without holders", q, tt.target)
				}
			}
		})
	}
}

func TestWaitTimeoutNamesHolders(t *testing.T) {
	held := model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:8080"), State: model.Listen}
	withHolder := held
	withHolder.Holders = []model.Holder{{PID: 42}}
	var full int
	collect := func(ctx context.Context, q engine.Query) (*model.Snapshot, error) {
		if !q.SocketsOnly {
			full++
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return &model.Snapshot{Sockets: []model.Socket{withHolder}}, nil
		}
		return &model.Snapshot{Sockets: []model.Socket{held}}, nil
	}
	res, err := Wait(context.Background(), WaitRequest{Target: tcpTarget(8080), Until: UntilFree, Timeout: 30 * time.Millisecond, Interval: time.Millisecond, Collect: collect})
	if err != nil {
		t.Fatal(err)
	}
	if res.Met || full != 1 || len(res.Sockets) != 1 || len(res.Sockets[0].Holders) != 1 || res.Sockets[0].Holders[0].PID != 42 {
		t.Errorf("Wait(free, held) = %+v after %d full collections; want not met, one full collection naming pid 42", res, full)
	}
}

func TestWaitErrors(t *testing.T) {
	boom := errors.New("netlink: boom")
	failing := func(context.Context, engine.Query) (*model.Snapshot, error) { return nil, boom }
	if _, err := Wait(context.Background(), WaitRequest{Target: tcpTarget(80), Until: UntilListening, Collect: failing}); !errors.Is(err, boom) {
		t.Errorf("Wait with a failing collector = %v; want its error", err)
	}
	never := func(context.Context, engine.Query) (*model.Snapshot, error) { return &model.Snapshot{}, nil }
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Wait(ctx, WaitRequest{Target: tcpTarget(80), Until: UntilListening, Timeout: time.Hour, Collect: never}); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context = %v; want context.Canceled", err)
	}
	for _, req := range []WaitRequest{
		{Target: tcpTarget(80), Collect: never},
		{Target: target.Target{Lo: 80, Hi: 90}, Until: UntilFree, Collect: never},
		{Target: tcpTarget(80), Until: UntilFree},
		{Target: tcpTarget(80), Until: UntilFree, Timeout: -time.Second, Collect: never},
	} {
		if _, err := Wait(context.Background(), req); !errors.Is(err, errWaitRequest) {
			t.Errorf("Wait(%+v) = %v; want a request error", req, err)
		}
	}
}

// realWait waits with a real engine; afterPoll, when set, runs after each
// poll with the number of polls so far, so a test can change the port
// between two polls without sleeping.
func realWait(t *testing.T, port int, until WaitUntil, timeout time.Duration, afterPoll func(int)) WaitResult {
	t.Helper()
	eng, err := engine.New(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	polls := 0
	collect := func(ctx context.Context, q engine.Query) (*model.Snapshot, error) {
		snap, err := eng.Collect(ctx, q)
		if q.SocketsOnly {
			polls++
			if afterPoll != nil {
				afterPoll(polls)
			}
		}
		return snap, err
	}
	res, err := Wait(context.Background(), WaitRequest{Target: tcpTarget(port), Until: until, Timeout: timeout, Interval: 20 * time.Millisecond, Collect: collect})
	if err != nil {
		t.Fatalf("Wait(tcp/%d %v): %v", port, until, err)
	}
	return res
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := wine.Touch(ln.(*net.TCPListener)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestWaitListeningReal starts a listener after Wait's second look.
func TestWaitListeningReal(t *testing.T) {
	port := testutil.FreePort(t)
	res := realWait(t, port, UntilListening, 20*time.Second, func(n int) {
		if n == 2 {
			listen(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String())
		}
	})
	if !res.Met || res.Polls != 3 || len(res.Sockets) != 1 || res.Sockets[0].Local.Port() != uint16(port) {
		t.Fatalf("Wait(listening) = %+v; want met at the third poll with the listener on %d", res, port)
	}
}

// TestWaitFreeReal closes a listener after Wait's first look.
func TestWaitFreeReal(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	res := realWait(t, port, UntilFree, 20*time.Second, func(n int) {
		if n == 1 {
			ln.Close()
		}
	})
	if !res.Met || res.Polls != 2 || len(res.Sockets) != 0 {
		t.Fatalf("Wait(free) = %+v; want met at the second poll, once the listener closed", res)
	}
}

func TestWaitTimeoutReal(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	res := realWait(t, port, UntilFree, 200*time.Millisecond, nil)
	if res.Met || len(res.Sockets) != 1 || res.Sockets[0].Local.Port() != uint16(port) {
		t.Fatalf("Wait(free) on a held port = %+v; want not met, with the listener", res)
	}
	if hs := res.Sockets[0].Holders; len(hs) == 0 && res.Sockets[0].Hidden == "" {
		t.Errorf("the listener that timed Wait(free) out has no holders and no reason: %+v", res.Sockets[0])
	}
	free := testutil.FreePort(t)
	if res := realWait(t, free, UntilListening, 200*time.Millisecond, nil); res.Met {
		t.Errorf("Wait(listening) on free port %d = %+v; want not met", free, res)
	}
}
