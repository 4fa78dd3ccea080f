package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// A room's policy (what an operator set through the admin API, e.g.
// relay-only) is room state that must outlive the node serving the room:
// a room re-placed after a drain or a crash, and every part of a room that
// spans nodes, applies it. It lives at hibiki:policy:<room>, without a TTL
// (only rooms an operator configured have one; setting the default deletes
// it), and each change is announced on hibiki:policy.

func (c *Cluster) policyKey(room string) string { return c.cfg.Prefix + "policy:" + room }
func (c *Cluster) policyChannel() string        { return c.cfg.Prefix + "policy" }

// SetPolicy stores room's policy (JSON; nil deletes it) and announces the
// change to the other nodes.
func (c *Cluster) SetPolicy(ctx context.Context, room string, policy json.RawMessage) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	_, err := c.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		if policy == nil {
			pipe.Del(ctx, c.policyKey(room))
		} else {
			pipe.Set(ctx, c.policyKey(room), []byte(policy), 0)
		}
		pipe.Publish(ctx, c.policyChannel(), room)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: policy of %s: %w", ErrUnavailable, room, err)
	}
	return nil
}

// Policy returns room's stored policy, nil when it has none.
func (c *Cluster) Policy(ctx context.Context, room string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	b, err := c.rdb.Get(ctx, c.policyKey(room)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: policy of %s: %w", ErrUnavailable, room, err)
	}
	return b, nil
}

// WatchPolicies calls fn with a room's name whenever its policy changed,
// and with "" whenever the subscription (re)starts (changes may have been
// missed while Redis was away). It runs until the Cluster is closed.
func (c *Cluster) WatchPolicies(fn func(room string)) {
	c.listen(256, func(m any) {
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				fn("")
			}
		case *redis.Message:
			fn(m.Payload)
		}
	}, c.policyChannel())
}
