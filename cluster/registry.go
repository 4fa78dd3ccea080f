package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// NodeInfo is one node's heartbeat record, as stored in Redis.
type NodeInfo struct {
	ID           string  `json:"id"`
	URL          string  `json:"url"`
	Rooms        int     `json:"rooms"`
	Participants int     `json:"participants"`
	BitrateBps   uint64  `json:"bitrateBps"`
	CPU          float64 `json:"cpu"` // busy cores of the process
	// Draining is set while the node hands its rooms over before it
	// stops: placement never picks it for a room.
	Draining bool `json:"draining,omitempty"`
	// At is when the node wrote this record (its own clock, for humans).
	At time.Time `json:"at"`
}

// registry reads and writes node records. A node is live while its key
// exists: each heartbeat rewrites it with the node TTL, so a node that
// misses heartbeats for the TTL is gone. The set of ids only lets readers
// find the keys; stale members are pruned by whoever notices.
type registry struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

func (r *registry) nodeKey(id string) string { return r.prefix + "node:" + id }
func (r *registry) setKey() string           { return r.prefix + "nodes" }

// beat writes n's record with a fresh TTL.
func (r *registry) beat(ctx context.Context, n NodeInfo) error {
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode node: %w", err)
	}
	pipe := r.rdb.TxPipeline()
	pipe.Set(ctx, r.nodeKey(n.ID), data, r.ttl)
	pipe.SAdd(ctx, r.setKey(), n.ID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("%w: heartbeat: %w", ErrUnavailable, err)
	}
	return nil
}

// node returns the live record of id; ok is false when the node is gone.
func (r *registry) node(ctx context.Context, id string) (NodeInfo, bool, error) {
	data, err := r.rdb.Get(ctx, r.nodeKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return NodeInfo{}, false, nil
	}
	if err != nil {
		return NodeInfo{}, false, fmt.Errorf("%w: read node %s: %w", ErrUnavailable, id, err)
	}
	var n NodeInfo
	if err := json.Unmarshal(data, &n); err != nil {
		return NodeInfo{}, false, fmt.Errorf("%w: node %s record: %w", ErrUnavailable, id, err)
	}
	return n, true, nil
}

// remove deletes id's record and its entry in the set of ids.
func (r *registry) remove(ctx context.Context, id string) error {
	pipe := r.rdb.TxPipeline()
	pipe.Del(ctx, r.nodeKey(id))
	pipe.SRem(ctx, r.setKey(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("%w: deregister: %w", ErrUnavailable, err)
	}
	return nil
}

// live lists every node whose heartbeat has not expired.
func (r *registry) live(ctx context.Context) ([]NodeInfo, error) {
	ids, err := r.rdb.SMembers(ctx, r.setKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: list nodes: %w", ErrUnavailable, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.nodeKey(id)
	}
	vals, err := r.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: read nodes: %w", ErrUnavailable, err)
	}
	out := make([]NodeInfo, 0, len(ids))
	var gone []any
	for i, v := range vals {
		s, ok := v.(string)
		var n NodeInfo
		if !ok || json.Unmarshal([]byte(s), &n) != nil {
			gone = append(gone, ids[i])
			continue
		}
		out = append(out, n)
	}
	if len(gone) > 0 {
		// Best effort: a node that comes back re-adds itself on its beat.
		_ = r.rdb.SRem(ctx, r.setKey(), gone...).Err()
	}
	return out, nil
}
