package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// nodeView is what this node knows of another node's entries, and up to
// which of its sequence numbers.
type nodeView struct {
	seq     uint64
	entries map[string][]byte
}

// read follows the presence channel and this node's channel. Pub/sub
// delivers at most once, so it also syncs from the hashes: when the
// subscription is (re)established, on a gap in a node's numbers, and on
// every heartbeat, which is also when nodes whose record expired are
// dropped.
func (l *Lobby) read(ctx context.Context, h LobbyHandler) {
	ps := l.c.rdb.Subscribe(ctx, l.presenceChannel(), l.nodeChannel(l.c.cfg.NodeID))
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	defer func() {
		_ = ps.Close()
		for range ch {
			// Drain: go-redis's goroutine may be blocked sending to ch.
		}
	}()
	t := time.NewTicker(l.c.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.sync(ctx, h)
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" && m.Channel == l.presenceChannel() {
					l.sync(ctx, h) // (re)subscribed: we may have missed changes
				}
			case *redis.Message:
				l.receive(ctx, h, m)
			}
		}
	}
}

func (l *Lobby) receive(ctx context.Context, h LobbyHandler, m *redis.Message) {
	if m.Channel != l.presenceChannel() {
		var env envelope
		if err := json.Unmarshal([]byte(m.Payload), &env); err != nil || env.From == "" {
			l.log.Warn("malformed lobby message", "err", err)
			return
		}
		h.Message(env.From, env.Msg)
		return
	}
	var ev presenceEvent
	if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil || ev.Node == "" {
		l.log.Warn("malformed lobby event", "err", err)
		return
	}
	if ev.Node == l.c.cfg.NodeID {
		return
	}
	v := l.views[ev.Node]
	if v != nil && ev.Seq <= v.seq {
		return // already seen, through a sync
	}
	entries := make(map[string][]byte, len(ev.Set))
	if ev.All {
		for k, raw := range ev.Set {
			if !isNull(raw) {
				entries[k] = raw
			}
		}
		l.replace(h, ev.Node, ev.Seq, entries)
		return
	}
	if v == nil || ev.Seq != v.seq+1 {
		// A gap (or a node new to us): the hash has it all, this event
		// included (it was published in the same transaction).
		if err := l.load(ctx, h, ev.Node); err == nil {
			return
		}
		if v == nil {
			v = &nodeView{entries: map[string][]byte{}}
			l.views[ev.Node] = v
		}
	}
	for k, raw := range ev.Set {
		if isNull(raw) {
			if _, ok := v.entries[k]; ok {
				delete(v.entries, k)
				h.Entry(ev.Node, k, nil)
			}
			continue
		}
		v.entries[k] = raw
		h.Entry(ev.Node, k, raw)
	}
	v.seq = ev.Seq
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// sync drops the nodes that are gone and loads the hashes of live nodes
// that are ahead of what we saw.
func (l *Lobby) sync(ctx context.Context, h LobbyHandler) {
	sctx, cancel := context.WithTimeout(ctx, 2*opTimeout)
	defer cancel()
	err := l.syncNodes(sctx, h)
	if ctx.Err() != nil {
		return // closing
	}
	if err != nil && !l.sick {
		l.log.Warn("lobby cannot sync with redis; other nodes' members stay as last seen", "err", err)
	}
	if err == nil && l.sick {
		l.log.Info("lobby synced with redis again")
	}
	l.sick = err != nil
}

func (l *Lobby) syncNodes(ctx context.Context, h LobbyHandler) error {
	live, err := l.c.reg.live(ctx)
	if err != nil {
		return err
	}
	others := make([]string, 0, len(live))
	alive := make(map[string]bool, len(live))
	for _, n := range live {
		if n.ID != l.c.cfg.NodeID {
			alive[n.ID] = true
			others = append(others, n.ID)
		}
	}
	for id := range l.views {
		if !alive[id] {
			l.replace(h, id, 0, nil)
			delete(l.views, id)
		}
	}
	if len(others) == 0 {
		return nil
	}
	pipe := l.c.rdb.Pipeline()
	seqs := make([]*redis.StringCmd, len(others))
	for i, id := range others {
		seqs[i] = pipe.HGet(ctx, l.hashKey(id), "seq")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: read lobby numbers: %w", ErrUnavailable, err)
	}
	for i, id := range others {
		seq, err := seqs[i].Uint64()
		if err != nil {
			continue // no lobby hash (yet): the node writes it within a beat
		}
		if v := l.views[id]; v != nil && seq <= v.seq {
			continue
		}
		if err := l.load(ctx, h, id); err != nil {
			return err
		}
	}
	return nil
}

// load reads node's whole hash and makes it the view of that node, unless
// the view is already newer.
func (l *Lobby) load(ctx context.Context, h LobbyHandler, node string) error {
	all, err := l.c.rdb.HGetAll(ctx, l.hashKey(node)).Result()
	if err != nil {
		return fmt.Errorf("%w: read lobby of %s: %w", ErrUnavailable, node, err)
	}
	seq, err := strconv.ParseUint(all["seq"], 10, 64)
	if err != nil {
		return fmt.Errorf("%w: lobby of %s has no number", ErrUnavailable, node)
	}
	if v := l.views[node]; v != nil && seq < v.seq {
		return nil
	}
	entries := make(map[string][]byte, len(all))
	for f, val := range all {
		if k, ok := strings.CutPrefix(f, "u:"); ok {
			entries[k] = []byte(val)
		}
	}
	l.replace(h, node, seq, entries)
	return nil
}

// replace makes entries node's view and reports the differences.
func (l *Lobby) replace(h LobbyHandler, node string, seq uint64, entries map[string][]byte) {
	v := l.views[node]
	if v == nil {
		v = &nodeView{entries: map[string][]byte{}}
		l.views[node] = v
	}
	for k := range v.entries {
		if _, ok := entries[k]; !ok {
			h.Entry(node, k, nil)
		}
	}
	for k, val := range entries {
		if old, ok := v.entries[k]; !ok || !bytes.Equal(old, val) {
			h.Entry(node, k, val)
		}
	}
	if entries == nil {
		entries = map[string][]byte{}
	}
	v.seq, v.entries = seq, entries
}
