package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster"
	"github.com/hibiki-sfu/hibiki/sfu"
)

// roomPolicies keeps the policies operators set on rooms (admin API) in
// the cluster's Redis, so that a room keeps its policy when it is placed
// on another node (drain, crash) and every part of a spanning room applies
// it (docs/cluster.md, "Room policies"). The cluster is set after the SFU
// exists, hence the pointer.
type roomPolicies struct {
	cl  atomic.Pointer[cluster.Cluster]
	log *slog.Logger
}

// source is the SFU's policy source: the stored policy of a room it is
// about to create. Without Redis the room starts with the default policy
// (the global rtc.relay_only still applies), and the failure is logged.
func (p *roomPolicies) source(room string) sfu.Policy {
	cl := p.cl.Load()
	if cl == nil {
		return sfu.Policy{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	b, err := cl.Policy(ctx, room)
	if err != nil {
		p.log.Warn("room policy unknown: Redis unreachable", "room", room, "err", err)
		return sfu.Policy{}
	}
	var pol sfu.Policy
	if b != nil {
		if err := json.Unmarshal(b, &pol); err != nil {
			p.log.Warn("stored room policy unreadable", "room", room, "err", err)
		}
	}
	return pol
}

// store is the admin API's policy store. The default policy is stored as
// none.
func (p *roomPolicies) store(ctx context.Context, room string, pol sfu.Policy) error {
	cl := p.cl.Load()
	if cl == nil {
		return nil
	}
	if pol == (sfu.Policy{}) {
		return cl.SetPolicy(ctx, room, nil)
	}
	b, err := json.Marshal(pol)
	if err != nil {
		return err
	}
	return cl.SetPolicy(ctx, room, b)
}

// follow applies policy changes other nodes stored to the rooms open here
// (the parts of a spanning room). A restarted subscription re-reads
// nothing: a Redis that restarted empty must not lift a room's policy.
func (p *roomPolicies) follow(s *sfu.SFU) {
	cl := p.cl.Load()
	if cl == nil {
		return
	}
	cl.WatchPolicies(func(room string) {
		if room == "" {
			return
		}
		if r := s.Room(room); r != nil {
			if pol := p.source(room); pol != r.Policy() {
				r.SetPolicy(pol)
				p.log.Info("room policy changed by another node", "room", room, "relayOnly", pol.RelayOnly)
			}
		}
	})
}
