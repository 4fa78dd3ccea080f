package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/hibiki-sfu/hibiki/cascade"
	"github.com/hibiki-sfu/hibiki/cluster"
	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// newCluster builds this node's membership from the redis and node
// settings; it is nil when no Redis is configured (a single node).
func newCluster(cfg *Config, s *sfu.SFU, logger *slog.Logger) (*cluster.Cluster, error) {
	if !cfg.Clustered() {
		return nil, nil
	}
	id := cfg.Node.ID
	if id == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		id = "node-" + hex.EncodeToString(b[:])
	}
	cl, err := cluster.New(cluster.Config{
		Address:   cfg.Redis.Address,
		Password:  cfg.Redis.Password,
		DB:        cfg.Redis.DB,
		Prefix:    cfg.Redis.Prefix,
		NodeID:    id,
		NodeURL:   cfg.Node.URL,
		Heartbeat: cfg.Node.Heartbeat,
		NodeTTL:   cfg.Node.TTL,
		Load:      sfuLoad(s),
		CPU:       cfg.NodeCPU,
		Span:      cfg.Node.SpanRooms,
		RoomShare: cfg.Node.RoomShare,
		RoomSize: func(room string) int {
			if r := s.Room(room); r != nil {
				return len(r.Local())
			}
			return 0
		},
		Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return cl, nil
}

// sfuLoad reports the SFU's rooms and forwarded bytes to the cluster.
func sfuLoad(s *sfu.SFU) func() cluster.Load {
	return func() cluster.Load {
		rooms := s.Rooms()
		l := cluster.Load{Rooms: make([]string, 0, len(rooms)), BytesOut: s.Counters().BytesOut.Load()}
		for _, r := range rooms {
			l.Rooms = append(l.Rooms, r.Name())
			l.Participants += len(r.Local())
		}
		return l
	}
}

// locate answers signaling's question for a join: a room already open here
// is served here without asking Redis (so it keeps working while Redis is
// down); any other room is looked up, or placed, through the cluster. A
// draining node serves no join: every one goes where the cluster places it.
func (a *App) locate(ctx context.Context, room string) (string, error) {
	shared := a.cfg.Node.SpanRooms && a.cfg.Node.RoomShare > 0 // a full part sends joins on
	if a.sfu.Room(room) != nil && !a.draining.Load() && !shared {
		return "", nil
	}
	url, err := a.cl.Locate(ctx, room)
	if err != nil {
		return "", fmt.Errorf("%w: %w", signaling.ErrUnavailable, err)
	}
	return url, nil
}

// locateDoor answers the WHIP/WHEP doors' question the way locate answers
// signaling's (a room open here is served without asking Redis), with the
// base of the serving node's HTTP endpoints instead of its signaling URL.
func (a *App) locateDoor(ctx context.Context, room string) (string, error) {
	url, err := a.locate(ctx, room)
	if err != nil || url == "" {
		return "", err
	}
	base, err := cluster.HTTPBase(url)
	if err != nil {
		return "", fmt.Errorf("serving node of %s: %w", room, err)
	}
	return base, nil
}

// Cluster returns this node's cluster membership, nil on a single node.
func (a *App) Cluster() *cluster.Cluster { return a.cl }

// newCascade builds the coordinator of rooms that span nodes. Relay
// requests are signed with a key derived from the token signing secret,
// which every node of the cluster shares.
func newCascade(cfg *Config, s *sfu.SFU, cl *cluster.Cluster, logger *slog.Logger) *cascade.Coordinator {
	_, secret := cfg.SigningKey()
	return cascade.New(cascade.Config{
		SFU:      s,
		Store:    cl,
		NodeID:   cl.NodeID(),
		Secret:   cascade.DeriveSecret(secret),
		Interval: cfg.Node.Heartbeat,
		TTL:      cfg.Node.TTL,
		Logger:   logger,
	})
}
