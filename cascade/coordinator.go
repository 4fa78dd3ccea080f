// Package cascade lets one room span several nodes of a cluster. Each node
// serves the participants that reached it; the nodes tell each other who is
// where through Redis (cluster.Part), show the others' participants as
// remote ones, and carry every published track to each other node of the
// room over one relay per (track, node) pair (sfu.Room.Relay). The relay
// itself is a WebRTC connection between the two nodes, opened by an HTTP
// request to the receiving node (Handler) signed with the cluster's shared
// secret. docs/cluster.md, "Rooms across nodes", describes the behaviour.
package cascade

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster"
	"github.com/hibiki-sfu/hibiki/sfu"
)

// Store is where the nodes of a room meet: *cluster.Cluster.
type Store interface {
	PublishPart(ctx context.Context, room string, size int, state json.RawMessage) error
	RemovePart(ctx context.Context, room string) error
	Parts(ctx context.Context, room string) ([]cluster.Part, error)
	Watch(parts func(cluster.PartChange), data func([]byte))
	SendData(ctx context.Context, node string, msg []byte) error
}

// Config configures a Coordinator.
type Config struct {
	SFU   *sfu.SFU
	Store Store
	// NodeID is this node's id in the cluster.
	NodeID string
	// Secret signs relay requests; every node of the cluster must have the
	// same one (the API key secret they already share).
	Secret []byte
	// Interval is how often every part is rewritten and re-read (the
	// cluster heartbeat); TTL is how long a part may be missing before its
	// participants are dropped (the node TTL), so a Redis restart does not
	// end the calls that are running.
	Interval, TTL time.Duration
	// Client makes the relay requests (default: a 10 s timeout, no idle
	// connections kept).
	Client *http.Client
	Logger *slog.Logger
}

// Coordinator keeps this node's parts of spanning rooms in step with the
// other nodes': it publishes what it serves, applies what the others serve
// and opens the relays between them.
type Coordinator struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}
	dataq  chan outData

	mu    sync.Mutex
	dirty map[string]bool
	all   bool                            // reconcile every room next round
	seen  map[string]map[string]time.Time // room -> node -> when its part was last read
	gone  map[string]map[string]bool      // room -> nodes that left it on purpose
	bases map[string]string               // node -> HTTP base
	// published: rooms whose part this node wrote; outage: Redis failed
	// since the last successful round. Only the loop touches them.
	published map[string]bool
	outage    bool
}

// New prepares a coordinator; Start runs it.
func New(cfg Config) *Coordinator {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = cluster.DefaultHeartbeat
	}
	if cfg.TTL <= 0 {
		cfg.TTL = cluster.DefaultNodeTTL
	}
	if cfg.Client == nil {
		// A relay is opened once per track and node: keeping idle
		// connections to every node buys nothing.
		cfg.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Coordinator{
		cfg: cfg, log: cfg.Logger.With("component", "cascade"),
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), dataq: make(chan outData, dataQueue),
		dirty: make(map[string]bool), seen: make(map[string]map[string]time.Time),
		gone: make(map[string]map[string]bool), bases: make(map[string]string),
		published: make(map[string]bool),
	}
}

// Changed marks room for a reconcile round (sfu.WithRoomObserver calls it).
// It never blocks.
func (c *Coordinator) Changed(room string) {
	c.mu.Lock()
	c.dirty[room] = true
	c.mu.Unlock()
	c.poke()
}

func (c *Coordinator) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Start watches the other nodes' parts and runs the reconcile loop until
// Close.
func (c *Coordinator) Start() {
	c.cfg.Store.Watch(c.partChanged, c.receiveData)
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		c.sendData()
	}()
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(c.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-c.wake:
			case <-t.C:
				c.mu.Lock()
				c.all = true
				c.mu.Unlock()
			}
			c.round()
		}
	}()
}

// Close stops the loop. The parts this node published stay until they
// expire, as when a node crashes: a stopped node is treated like a dead
// one (a draining node has no participants left, so no part either).
func (c *Coordinator) Close() {
	c.cancel()
	c.wg.Wait()
}

// partChanged is the Store's news: another node changed its part of a
// room, or the subscription (re)started and anything may have changed.
func (c *Coordinator) partChanged(pc cluster.PartChange) {
	c.mu.Lock()
	switch {
	case pc.Room == "":
		c.all = true
	case c.cfg.SFU.Room(pc.Room) != nil:
		c.dirty[pc.Room] = true
		if pc.Gone {
			if c.gone[pc.Room] == nil {
				c.gone[pc.Room] = make(map[string]bool)
			}
			c.gone[pc.Room][pc.Node] = true
		}
	}
	c.mu.Unlock()
	c.poke()
}

// round reconciles the rooms marked since the last one.
func (c *Coordinator) round() {
	c.mu.Lock()
	rooms := c.dirty
	c.dirty = make(map[string]bool)
	if c.all {
		c.all = false
		for _, r := range c.cfg.SFU.Rooms() {
			rooms[r.Name()] = true
		}
		for name := range c.published {
			rooms[name] = true
		}
	}
	c.mu.Unlock()
	for name := range rooms {
		c.reconcile(name)
	}
}

// reconcile publishes this node's part of one room, applies the others'
// and opens or closes relays to match.
func (c *Coordinator) reconcile(name string) {
	ctx := c.ctx
	r := c.cfg.SFU.Room(name)
	var local []sfu.ParticipantInfo
	if r != nil {
		local = r.LocalInfos()
	}
	if len(local) == 0 {
		if c.published[name] {
			if err := c.cfg.Store.RemovePart(ctx, name); err != nil {
				c.log.Debug("remove part", "room", name, "err", err)
				return // try again next round
			}
			delete(c.published, name)
		}
		if r == nil {
			c.forget(name)
		}
		return
	}
	state, err := json.Marshal(local)
	if err != nil {
		c.log.Error("encode part", "room", name, "err", err)
		return
	}
	if err := c.cfg.Store.PublishPart(ctx, name, len(local), state); err != nil {
		// Redis is away: what runs keeps running; the next round retries.
		c.log.Debug("publish part", "room", name, "err", err)
		c.outage = true
		return
	}
	c.published[name] = true
	parts, err := c.cfg.Store.Parts(ctx, name)
	if err != nil {
		c.log.Debug("read parts", "room", name, "err", err)
		c.outage = true
		return
	}
	if c.outage {
		// Redis is back, maybe empty: the other nodes get a TTL to write
		// their parts again before theirs count as gone.
		c.outage = false
		c.renewSeen(time.Now())
	}
	now := time.Now()
	live := c.note(name, parts, now)
	for _, p := range parts {
		var infos []sfu.ParticipantInfo
		if err := json.Unmarshal(p.State, &infos); err != nil {
			c.log.Warn("unreadable part", "room", name, "node", p.Node, "err", err)
			continue
		}
		r.SyncRemote(p.Node, infos)
	}
	for _, node := range r.RemoteNodes() {
		if !slices.Contains(live, node) {
			c.log.Info("remote part gone", "room", name, "node", node)
			r.SyncRemote(node, nil)
		}
	}
	r.StopRelays(live)
	for _, p := range parts {
		for _, info := range local {
			for _, t := range info.Tracks {
				if err := r.Relay(t.SID, p.Node, c.dial); err != nil {
					c.log.Debug("relay", "track", t.SID, "node", p.Node, "err", err)
				}
			}
		}
	}
}

// note records the parts just read and returns the nodes still in the
// room: those read now, and those missing for less than the TTL that did
// not say they left (Redis may have lost their part in a restart).
func (c *Coordinator) note(room string, parts []cluster.Part, now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := c.seen[room]
	if seen == nil {
		seen = make(map[string]time.Time)
		c.seen[room] = seen
	}
	gone := c.gone[room]
	delete(c.gone, room)
	var live []string
	for _, p := range parts {
		seen[p.Node] = now
		c.bases[p.Node] = p.Base
		live = append(live, p.Node)
	}
	for node, at := range seen {
		switch {
		case slices.Contains(live, node):
		case gone[node] || now.Sub(at) > c.cfg.TTL:
			delete(seen, node)
		default:
			live = append(live, node)
		}
	}
	return live
}

// renewSeen counts every known part as seen now.
func (c *Coordinator) renewSeen(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, seen := range c.seen {
		for node := range seen {
			seen[node] = now
		}
	}
}

// forget drops what is known about a room this node no longer serves.
func (c *Coordinator) forget(room string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, room)
	delete(c.gone, room)
}

func (c *Coordinator) base(node string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bases[node]
}
