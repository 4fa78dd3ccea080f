package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNotClustered refuses a drain on a single node: there is no other node
// to hand the rooms to (SIGTERM then shuts down as it always did).
var ErrNotClustered = errors.New("not in a cluster: no other node to drain to")

// drainPoll is how often a drain checks whether its participants have
// moved, and moves those that arrived meanwhile (a resume in flight).
const drainPoll = 50 * time.Millisecond

// drainReason goes with every redirect a draining node sends.
const drainReason = "node draining"

// drainer runs the node's one drain, started by SIGTERM or the admin API.
type drainer struct {
	once sync.Once
	done chan struct{} // closed when the drain has ended
	err  error
}

// StartDrain puts the node into draining and moves its rooms to other nodes
// in the background (docs/cluster.md, "Drain"); it returns at once. A second
// call does nothing. Close cuts a drain in progress short.
func (a *App) StartDrain() error {
	if a.cl == nil {
		return ErrNotClustered
	}
	a.drain.once.Do(func() {
		a.draining.Store(true)
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer close(a.drain.done)
			a.drain.err = a.runDrain(a.life)
		}()
	})
	return nil
}

// Drain starts the drain if needed and waits until it has ended: every
// participant moved (or node.drain_timeout passed) and the node
// deregistered.
func (a *App) Drain(ctx context.Context) error {
	if err := a.StartDrain(); err != nil {
		return err
	}
	select {
	case <-a.drain.done:
		return a.drain.err
	case <-ctx.Done():
		return fmt.Errorf("drain: %w", ctx.Err())
	}
}

// Draining reports whether a drain has started.
func (a *App) Draining() bool { return a.draining.Load() }

func (a *App) runDrain(life context.Context) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(life, a.cfg.Node.DrainTimeout)
	defer cancel()
	a.logger.Info("drain started", "timeout", a.cfg.Node.DrainTimeout)
	if err := a.cl.Drain(ctx); err != nil {
		// Without Redis the rooms cannot be placed elsewhere; the
		// participants stay until the timeout.
		a.logger.Warn("drain: cannot mark the node draining", "err", err)
	}
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
wait:
	for a.moveRooms(ctx) > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			break wait
		}
	}
	if life.Err() != nil {
		return fmt.Errorf("drain: %w", life.Err())
	}
	for _, r := range a.sfu.Rooms() {
		if n := len(r.Local()); n > 0 {
			a.logger.Warn("drain timeout: closing a room that did not move", "room", r.Name(), "participants", n)
			r.Close(drainReason)
		}
	}
	lctx, lcancel := context.WithTimeout(life, 5*time.Second)
	defer lcancel()
	err := a.cl.Leave(lctx)
	a.logger.Info("drain done", "took", time.Since(start), "err", err)
	return err
}

// moveRooms sends the participants of every room to the node the room is
// placed on now and returns how many participants are still here. Those
// already told to move are not told again.
func (a *App) moveRooms(ctx context.Context) int {
	left := 0
	for _, r := range a.sfu.Rooms() {
		n := len(r.Local())
		if n == 0 {
			continue
		}
		left += n
		url, err := a.cl.Relocate(ctx, r.Name())
		if err != nil {
			if ctx.Err() == nil {
				a.logger.Warn("drain: cannot place room elsewhere", "room", r.Name(), "err", err)
			}
			continue
		}
		if moved := a.sig.Redirect(r.Name(), url, drainReason); moved > 0 {
			a.logger.Info("drain: room moved", "room", r.Name(), "to", url, "participants", moved)
		}
	}
	return left
}
