package cluster

import (
	"context"
	"errors"
	"fmt"
)

// ErrClosed is returned by Drain on a node whose heartbeat has stopped.
var ErrClosed = errors.New("cluster: node closed")

// Drain marks this node draining and writes its record at once, so that
// from its return on no node (this one included) places a room here; the
// same beat drops the leases of the rooms served here, and later beats renew
// none. The rooms themselves stay open: the caller moves their participants
// (Relocate tells where to) and then calls Leave. It fails with
// ErrUnavailable when Redis did not take the record.
func (c *Cluster) Drain(ctx context.Context) error {
	c.draining.Store(true)
	done := make(chan struct{})
	select {
	case c.kick <- done:
	case <-c.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("drain: %w", ctx.Err())
	}
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("drain: %w", ctx.Err())
	}
	if !c.up.Load() {
		return fmt.Errorf("%w: drain: the draining record was not written", ErrUnavailable)
	}
	c.log.Info("draining: no new rooms are placed here")
	return nil
}

// Draining reports whether Drain was called.
func (c *Cluster) Draining() bool { return c.draining.Load() }

// Relocate gives up this node's lease on room and places the room on
// another live node; it returns that node's signaling URL, where the room's
// participants should join. Errors wrap ErrUnavailable (no other live node,
// or Redis down). Call it after Drain.
func (c *Cluster) Relocate(ctx context.Context, room string) (string, error) {
	if !c.draining.Load() {
		return "", fmt.Errorf("%w: relocate %s: node is not draining", ErrUnavailable, room)
	}
	url, err := c.Locate(ctx, room)
	if err != nil {
		return "", err
	}
	if url == "" {
		// Placement excludes a draining node; never send clients here.
		return "", fmt.Errorf("%w: relocate %s: placed on the draining node", ErrUnavailable, room)
	}
	return url, nil
}

// Leave stops the heartbeat (and the lobby) and deletes this node's record,
// the leases it still holds and its lobby hash, so that it is gone from the
// cluster at once instead of after the node TTL. Locate keeps working (through Redis) until Close.
func (c *Cluster) Leave(ctx context.Context) error {
	c.cancel()
	c.wg.Wait()
	ctx, cancel := context.WithTimeout(ctx, 2*opTimeout)
	defer cancel()
	var errs []error
	for r := range c.held {
		errs = append(errs, c.leases.drop(ctx, r, c.cfg.NodeID))
	}
	clear(c.held)
	errs = append(errs, c.reg.remove(ctx, c.cfg.NodeID), c.lobby.forget(ctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	c.log.Info("deregistered")
	return nil
}
