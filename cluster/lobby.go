package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxOutbox bounds the node messages waiting for Redis, so that a lobby
// cannot grow memory while Redis is down: beyond it messages are dropped
// (an invite then times out).
const maxOutbox = 4096

// LobbyHandler receives what the other nodes publish: their lobby entries
// and the messages addressed to this node. It is declared here and
// implemented by signaling, which keeps cluster free of lobby semantics.
// Calls come from one goroutine, in order, and must not block.
type LobbyHandler interface {
	// Entry reports that node's entry for key changed; value nil means
	// it is gone (removed, or the node is gone).
	Entry(node, key string, value []byte)
	// Message delivers msg, sent to this node by node from.
	Message(from string, msg []byte)
}

// Lobby replicates small per-node entries (a lobby's members) to every node
// and carries messages from node to node (invites), both through Redis:
// the entries live in a hash per node that expires with the node, and
// every change is also published on one channel, so other nodes learn it
// at once and a node that (re)connects can load the current set. It knows
// nothing of what the entries mean. docs/cluster.md "Lobby" has the keys.
type Lobby struct {
	c   *Cluster
	log *slog.Logger

	mu      sync.Mutex
	pending map[string][]byte // key -> value; nil value: delete
	outbox  []nodeMsg
	wake    chan struct{}

	// Touched only by the writer goroutine (and by Leave after it ended).
	mine map[string][]byte // what the hash holds, as far as we know
	seq  uint64
	// Touched only by the reader goroutine.
	views map[string]*nodeView
	sick  bool // the loss of Redis was logged
}

// nodeMsg is one message waiting to be published to a node.
type nodeMsg struct {
	to  string
	msg []byte
}

// presenceEvent is what goes out on the presence channel: the changes of
// one flush of one node, numbered so receivers notice a gap. All marks a
// full set (the node started or rewrote its hash).
type presenceEvent struct {
	Node string                     `json:"node"`
	Seq  uint64                     `json:"seq"`
	All  bool                       `json:"all,omitempty"`
	Set  map[string]json.RawMessage `json:"set"` // null: deleted
}

// envelope is what goes out on a node's own channel.
type envelope struct {
	From string          `json:"from"`
	Msg  json.RawMessage `json:"msg"`
}

func newLobby(c *Cluster) *Lobby {
	return &Lobby{
		c:       c,
		log:     c.log.With("part", "lobby"),
		pending: map[string][]byte{},
		wake:    make(chan struct{}, 1),
		mine:    map[string][]byte{},
		views:   map[string]*nodeView{},
		// A restarted node continues above anything its previous run sent.
		seq: uint64(time.Now().UnixNano()),
	}
}

// Lobby returns this node's lobby link; Start it with the handler of the
// entries and messages of other nodes.
func (c *Cluster) Lobby() *Lobby { return c.lobby }

func (l *Lobby) hashKey(node string) string { return l.c.cfg.Prefix + "lobby:" + node }
func (l *Lobby) presenceChannel() string    { return l.c.cfg.Prefix + "lobby" }
func (l *Lobby) nodeChannel(node string) string {
	return l.c.cfg.Prefix + "lobby:to:" + node
}

// Start runs the writer and the reader until the Cluster is closed (or
// leaves after a drain). Entries set before Start are written at once.
func (l *Lobby) Start(h LobbyHandler) {
	l.c.wg.Add(2)
	go func() {
		defer l.c.wg.Done()
		l.write(l.c.ctx)
	}()
	go func() {
		defer l.c.wg.Done()
		l.read(l.c.ctx, h)
	}()
}

// Set publishes this node's entry for key; value must be JSON, nil
// deletes the entry. It never blocks: changes are batched by the writer.
func (l *Lobby) Set(key string, value []byte) {
	if value != nil && !json.Valid(value) {
		l.log.Error("lobby entry is not JSON, dropped", "key", key)
		return
	}
	if l.c.ctx.Err() != nil {
		return
	}
	l.mu.Lock()
	l.pending[key] = value
	l.mu.Unlock()
	l.poke()
}

// Send publishes msg (JSON) to node. It never blocks; a message that
// cannot be delivered (Redis down, node gone) is dropped: the lobby's
// timeouts cover it.
func (l *Lobby) Send(node string, msg []byte) {
	if !json.Valid(msg) || l.c.ctx.Err() != nil {
		return
	}
	l.mu.Lock()
	if len(l.outbox) >= maxOutbox {
		l.mu.Unlock()
		l.log.Warn("lobby outbox full, message dropped", "to", node)
		return
	}
	l.outbox = append(l.outbox, nodeMsg{to: node, msg: msg})
	l.mu.Unlock()
	l.poke()
}

func (l *Lobby) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// write flushes changes as they come and, on every heartbeat, renews the
// hash's TTL (rewriting it when Redis lost it).
func (l *Lobby) write(ctx context.Context) {
	t := time.NewTicker(l.c.cfg.Heartbeat)
	defer t.Stop()
	rewrite := true // a stale hash of an earlier run may be there
	for {
		if rewrite {
			rewrite = l.rewrite(ctx) != nil
		}
		if l.flush(ctx) {
			rewrite = l.rewrite(ctx) != nil
		}
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-t.C:
			ok, err := l.c.rdb.PExpire(ctx, l.hashKey(l.c.cfg.NodeID), l.c.cfg.NodeTTL).Result()
			rewrite = err != nil || !ok
		}
	}
}

// flush writes the pending changes in one transaction and publishes them;
// then the queued messages. Failed changes stay pending for the next try.
// It reports whether the hash had vanished (Redis restarted empty), so the
// caller writes it whole.
func (l *Lobby) flush(ctx context.Context) (lost bool) {
	l.mu.Lock()
	changes, msgs := l.pending, l.outbox
	l.pending, l.outbox = map[string][]byte{}, nil
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if len(changes) > 0 {
		existed, err := l.publish(ctx, changes)
		lost = err == nil && !existed
		if err != nil {
			l.mu.Lock()
			for k, v := range changes {
				if _, newer := l.pending[k]; !newer {
					l.pending[k] = v
				}
			}
			l.mu.Unlock()
			l.log.Debug("lobby changes not written, retrying on the next beat", "err", err)
		}
	}
	for _, m := range msgs {
		data, _ := json.Marshal(envelope{From: l.c.cfg.NodeID, Msg: m.msg})
		n, err := l.c.rdb.Publish(ctx, l.nodeChannel(m.to), data).Result()
		if err != nil || n == 0 {
			l.log.Debug("lobby message not delivered", "to", m.to, "receivers", n, "err", err)
		}
	}
	return lost
}

// publish applies changes to the hash and announces them, atomically. It
// reports whether the hash existed before.
func (l *Lobby) publish(ctx context.Context, changes map[string][]byte) (existed bool, err error) {
	l.seq++
	ev := presenceEvent{Node: l.c.cfg.NodeID, Seq: l.seq, Set: make(map[string]json.RawMessage, len(changes))}
	key := l.hashKey(l.c.cfg.NodeID)
	pipe := l.c.rdb.TxPipeline()
	exists := pipe.Exists(ctx, key)
	for k, v := range changes {
		if v == nil {
			pipe.HDel(ctx, key, "u:"+k)
			ev.Set[k] = json.RawMessage("null")
		} else {
			pipe.HSet(ctx, key, "u:"+k, v)
			ev.Set[k] = v
		}
	}
	err = l.commit(ctx, pipe, ev, func() {
		for k, v := range changes {
			if v == nil {
				delete(l.mine, k)
			} else {
				l.mine[k] = v
			}
		}
	})
	return exists.Val() == 1, err
}

// rewrite replaces the hash with everything this node has published: on
// start, and when Redis lost the hash (a restart without persistence).
func (l *Lobby) rewrite(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	l.seq++
	ev := presenceEvent{Node: l.c.cfg.NodeID, Seq: l.seq, All: true, Set: make(map[string]json.RawMessage, len(l.mine))}
	key := l.hashKey(l.c.cfg.NodeID)
	pipe := l.c.rdb.TxPipeline()
	pipe.Del(ctx, key)
	for k, v := range l.mine {
		pipe.HSet(ctx, key, "u:"+k, v)
		ev.Set[k] = v
	}
	return l.commit(ctx, pipe, ev, func() {})
}

// commit finishes a transaction started by publish or rewrite: the
// sequence number, the TTL and the announcement go with the changes.
func (l *Lobby) commit(ctx context.Context, pipe redis.Pipeliner, ev presenceEvent, done func()) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode lobby event: %w", err)
	}
	key := l.hashKey(l.c.cfg.NodeID)
	pipe.HSet(ctx, key, "seq", strconv.FormatUint(ev.Seq, 10))
	pipe.PExpire(ctx, key, l.c.cfg.NodeTTL)
	pipe.Publish(ctx, l.presenceChannel(), data)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("%w: write lobby: %w", ErrUnavailable, err)
	}
	done()
	return nil
}

// forget deletes this node's hash and tells the others it is empty; Leave
// calls it after the writer stopped.
func (l *Lobby) forget(ctx context.Context) error {
	l.seq++
	data, _ := json.Marshal(presenceEvent{Node: l.c.cfg.NodeID, Seq: l.seq, All: true, Set: map[string]json.RawMessage{}})
	pipe := l.c.rdb.TxPipeline()
	pipe.Del(ctx, l.hashKey(l.c.cfg.NodeID))
	pipe.Publish(ctx, l.presenceChannel(), data)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("%w: delete lobby: %w", ErrUnavailable, err)
	}
	return nil
}
