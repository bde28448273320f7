package act

// This file holds `whobinds wait`: poll the engine for one port, cheaply
// (the kernel's socket table only, filtered to that port), until it is
// listening or free.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/whobinds/whobinds/internal/engine"
	"github.com/whobinds/whobinds/internal/model"
	"github.com/whobinds/whobinds/internal/target"
)

// WaitUntil says what Wait waits for.
type WaitUntil int

// The conditions Wait can wait for.
const (
	// UntilListening holds when a TCP listener or a bound UDP socket
	// serves the target (a wildcard listener serves every address).
	UntilListening WaitUntil = iota + 1
	// UntilFree holds when none does. TIME-WAIT leftovers and connections
	// do not count: `whobinds check` says whether a bind would work.
	UntilFree
)

func (u WaitUntil) String() string {
	switch u {
	case UntilListening:
		return "listening"
	case UntilFree:
		return "free"
	}
	return fmt.Sprintf("WaitUntil(%d)", int(u))
}

// DefaultWaitInterval is how often Wait polls when WaitRequest.Interval
// is zero.
const DefaultWaitInterval = 100 * time.Millisecond

// WaitRequest says what to wait for.
type WaitRequest struct {
	// Target is one port; Proto 0 means TCP and UDP, and Addr, when valid,
	// keeps the sockets that serve that address.
	Target target.Target
	Until  WaitUntil
	// Timeout bounds the wait; 0 waits until ctx ends.
	Timeout time.Duration
	// Interval is the pause between polls; 0 means DefaultWaitInterval.
	Interval time.Duration
	// Collect lists sockets, usually (*engine.Engine).Collect. Wait asks
	// it for the kernel's sockets only (Query.SocketsOnly); on a timeout
	// of UntilFree it asks once more with holders, to name them.
	Collect func(context.Context, engine.Query) (*model.Snapshot, error)
}

// WaitResult is what Wait saw.
type WaitResult struct {
	// Met is true when the condition held; false when the time ran out.
	Met bool
	// Polls is the number of times the sockets were listed.
	Polls int
	// Sockets are the listeners serving the target at the last poll:
	// those that made UntilListening hold, or those that still held the
	// port when UntilFree timed out (then with holders, when they could
	// be listed).
	Sockets []model.Socket
}

// errWaitRequest is wrapped by the errors of a malformed WaitRequest.
var errWaitRequest = errors.New("wait")

// Wait polls the sockets serving req.Target until req.Until holds, the
// timeout passes (Met false, no error) or ctx ends (ctx's error). An error
// from Collect ends the wait, except one caused by the timeout itself.
func Wait(ctx context.Context, req WaitRequest) (WaitResult, error) {
	var res WaitResult
	switch {
	case req.Until != UntilListening && req.Until != UntilFree:
		return res, fmt.Errorf("%w: condition %v: want listening or free", errWaitRequest, req.Until)
	case !req.Target.Single() || req.Target.Lo == 0:
		return res, fmt.Errorf("%w: target %s: want one port", errWaitRequest, req.Target)
	case req.Collect == nil:
		return res, fmt.Errorf("%w: no way to list sockets", errWaitRequest)
	case req.Timeout < 0 || req.Interval < 0:
		return res, fmt.Errorf("%w: negative timeout or interval", errWaitRequest)
	}
	interval := req.Interval
	if interval == 0 {
		interval = DefaultWaitInterval
	}
	parent := ctx
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	q := waitQuery(req.Target)
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		snap, err := req.Collect(ctx, q)
		if err != nil {
			if parent.Err() == nil && ctx.Err() != nil {
				break // the timeout ran out during a poll
			}
			return res, err
		}
		res.Polls++
		res.Sockets = serving(snap, req.Target)
		if (req.Until == UntilListening) == (len(res.Sockets) > 0) {
			res.Met = true
			return res, nil
		}
		timer.Reset(interval) // a stale tick is dropped (Go 1.23 timers)
		select {
		case <-timer.C:
			continue
		case <-ctx.Done():
		}
		if err := parent.Err(); err != nil {
			return res, err
		}
		break // the timeout ran out
	}
	if req.Until == UntilFree {
		// Name what still holds the port: one full collection, bounded
		// on its own since ctx has run out.
		nctx, cancel := context.WithTimeout(context.WithoutCancel(parent), 5*time.Second)
		defer cancel()
		full := q
		full.SocketsOnly = false
		if snap, err := req.Collect(nctx, full); err == nil {
			if s := serving(snap, req.Target); len(s) > 0 {
				res.Sockets = s
			}
		}
	}
	return res, nil
}

// waitQuery asks for the listeners of one target and nothing more.
func waitQuery(t target.Target) engine.Query {
	return engine.Query{
		TCP: t.Proto == model.TCP, UDP: t.Proto == model.UDP,
		Targets: []target.Target{t}, SocketsOnly: true, SkipRPC: true,
	}
}

// serving keeps the listeners that serve t (the engine filters already;
// this keeps Wait exact whatever Collect returns).
func serving(snap *model.Snapshot, t target.Target) []model.Socket {
	if snap == nil {
		return nil
	}
	var out []model.Socket
	for _, s := range snap.Sockets {
		if s.IsListener() && t.Match(&s) {
			out = append(out, s)
		}
	}
	return out
}
