package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Part is one node's share of a room that spans nodes: which node, where
// its HTTP endpoints are (relays are opened there), when it last wrote,
// and its state, opaque here (the cascade package puts the participants the
// node serves in it).
type Part struct {
	Node string    `json:"node"`
	Base string    `json:"base"`
	At   time.Time `json:"at"`
	// Size is how many participants the node serves in the room: room
	// shares (Config.RoomShare) are checked against it.
	Size  int             `json:"size"`
	State json.RawMessage `json:"state"`
}

// PartChange is what WatchParts reports: node changed its part of room;
// Gone says it left the room on purpose (not a node that fell silent).
type PartChange struct {
	Node string `json:"node"`
	Room string `json:"room"`
	Gone bool   `json:"gone,omitempty"`
}

func (c *Cluster) partsKey(room string) string { return c.cfg.Prefix + "parts:" + room }
func (c *Cluster) partsChannel() string        { return c.cfg.Prefix + "parts" }
func (c *Cluster) dataChannel(node string) string {
	return c.cfg.Prefix + "data:to:" + node
}

// SendData publishes msg to node: data-channel messages of a spanning room
// for participants that node serves. Delivery is at most once, in order
// per sending node; nothing is kept while Redis is away.
func (c *Cluster) SendData(ctx context.Context, node string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := c.rdb.Publish(ctx, c.dataChannel(node), msg).Err(); err != nil {
		return fmt.Errorf("%w: data to %s: %w", ErrUnavailable, node, err)
	}
	return nil
}

// PublishPart writes this node's part of room, size participants
// described by state (JSON), and tells the other nodes. The hash of a room lives three node TTLs past its
// last write; a part older than one TTL counts as gone.
func (c *Cluster) PublishPart(ctx context.Context, room string, size int, state json.RawMessage) error {
	base, err := HTTPBase(c.cfg.NodeURL)
	if err != nil {
		return err
	}
	data, err := json.Marshal(Part{Node: c.cfg.NodeID, Base: base, At: time.Now(), Size: size, State: state})
	if err != nil {
		return fmt.Errorf("encode part: %w", err)
	}
	return c.commitPart(ctx, room, false, func(pipe redis.Pipeliner, key string) {
		pipe.HSet(ctx, key, c.cfg.NodeID, data)
		pipe.PExpire(ctx, key, 3*c.cfg.NodeTTL)
	})
}

// RemovePart deletes this node's part of room and tells the other nodes,
// which drop its participants at once.
func (c *Cluster) RemovePart(ctx context.Context, room string) error {
	return c.commitPart(ctx, room, true, func(pipe redis.Pipeliner, key string) {
		pipe.HDel(ctx, key, c.cfg.NodeID)
	})
}

func (c *Cluster) commitPart(ctx context.Context, room string, gone bool, write func(redis.Pipeliner, string)) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	msg, err := json.Marshal(PartChange{Node: c.cfg.NodeID, Room: room, Gone: gone})
	if err != nil {
		return fmt.Errorf("encode part change: %w", err)
	}
	_, err = c.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		write(pipe, c.partsKey(room))
		pipe.Publish(ctx, c.partsChannel(), msg)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: part of %s: %w", ErrUnavailable, room, err)
	}
	return nil
}

// Parts returns the live parts of room held by other nodes. Parts not
// rewritten within the node TTL (their node died) are left out and
// deleted.
func (c *Cluster) Parts(ctx context.Context, room string) ([]Part, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	all, err := c.rdb.HGetAll(ctx, c.partsKey(room)).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: parts of %s: %w", ErrUnavailable, room, err)
	}
	now := time.Now()
	var out []Part
	var stale []string
	for node, data := range all {
		if node == c.cfg.NodeID {
			continue
		}
		var p Part
		if err := json.Unmarshal([]byte(data), &p); err != nil || p.Node != node {
			stale = append(stale, node) // not ours to read: drop it
			continue
		}
		if now.Sub(p.At) > c.cfg.NodeTTL {
			stale = append(stale, node)
			continue
		}
		out = append(out, p)
	}
	if len(stale) > 0 {
		if err := c.rdb.HDel(ctx, c.partsKey(room), stale...).Err(); err != nil && !errors.Is(err, context.Canceled) {
			c.log.Debug("drop stale parts", "room", room, "err", err)
		}
	}
	return out, nil
}

// Watch calls parts for every change another node makes to its part of a
// room, and with an empty PartChange whenever the subscription starts or
// starts again after Redis came back (changes may have been missed); and
// data for every message SendData sent to this node. It runs until the
// Cluster is closed; the callbacks must not block for long.
func (c *Cluster) Watch(parts func(PartChange), data func([]byte)) {
	mine := c.dataChannel(c.cfg.NodeID)
	c.listen(1024, func(m any) {
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == c.partsChannel() {
				parts(PartChange{})
			}
		case *redis.Message:
			if m.Channel == mine {
				data([]byte(m.Payload))
				return
			}
			var pc PartChange
			if json.Unmarshal([]byte(m.Payload), &pc) != nil || pc.Node == c.cfg.NodeID || pc.Room == "" {
				return
			}
			parts(pc)
		}
	}, c.partsChannel(), mine)
}
