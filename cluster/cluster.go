package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// placeAttempts bounds how often Locate re-reads a lease another node
// claimed between its read and its claim.
const placeAttempts = 3

// Cluster is this node's membership: it beats, renews the leases of the
// rooms it serves, and places new rooms. Start it with Start; Close stops it
// without deregistering, as a crash would (the records expire).
type Cluster struct {
	cfg    Config
	log    *slog.Logger
	rdb    *redis.Client
	reg    *registry
	leases *leases
	lobby  *Lobby

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	up     atomic.Bool // Redis answered the last heartbeat
	// draining: placement skips this node and leases are no longer renewed
	// (drain.go). kick asks the heartbeat goroutine for a beat now.
	draining atomic.Bool
	kick     chan chan struct{}
	closed   sync.Once
	cerr     error

	// Touched only by the heartbeat goroutine.
	held   map[string]struct{}
	warned bool // the loss of Redis was logged
	cpu    cpuMeter
	rate   rateMeter
}

// New prepares a node's membership; it does not contact Redis yet.
func New(cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(&redis.Options{
		Addr:            cfg.Address,
		Password:        cfg.Password,
		DB:              cfg.DB,
		DialTimeout:     opTimeout / 2,
		ReadTimeout:     opTimeout,
		WriteTimeout:    opTimeout,
		PoolTimeout:     opTimeout,
		MaxRetries:      1,
		DisableIdentity: true,
		// Not a Redis Enterprise cluster: no maintenance push handshake.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "cluster", "node", cfg.NodeID),
		rdb:    rdb,
		reg:    &registry{rdb: rdb, prefix: cfg.Prefix, ttl: cfg.NodeTTL},
		leases: newLeases(rdb, cfg.Prefix, cfg.NodeTTL),
		ctx:    ctx,
		cancel: cancel,
		held:   make(map[string]struct{}),
		kick:   make(chan chan struct{}),
	}
	c.lobby = newLobby(c)
	return c, nil
}

// Up reports whether Redis answered the last heartbeat.
func (c *Cluster) Up() bool { return c.up.Load() }

// NodeID returns this node's id.
func (c *Cluster) NodeID() string { return c.cfg.NodeID }

// Start writes the first heartbeat (a failure is logged, not fatal: the
// node serves its own rooms without Redis) and keeps beating until Close.
func (c *Cluster) Start() {
	c.beat()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(c.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
				c.beat()
			case done := <-c.kick:
				c.beat()
				close(done)
			}
		}
	}()
}

// Close stops the heartbeat and closes the Redis client. The node's record
// and leases stay until they expire.
func (c *Cluster) Close() error {
	c.closed.Do(func() {
		c.cancel()
		c.wg.Wait()
		if err := c.rdb.Close(); err != nil {
			c.cerr = fmt.Errorf("close redis client: %w", err)
		}
	})
	return c.cerr
}

// beat writes this node's load and renews the leases of its rooms; leases
// of rooms that closed since the last beat are released.
func (c *Cluster) beat() {
	ctx, cancel := context.WithTimeout(c.ctx, opTimeout)
	defer cancel()
	now := time.Now()
	load := c.cfg.Load()
	info := NodeInfo{
		ID: c.cfg.NodeID, URL: c.cfg.NodeURL, Rooms: len(load.Rooms), Participants: load.Participants,
		BitrateBps: c.rate.read(load.BytesOut, now), At: now, Draining: c.draining.Load(),
	}
	if c.cfg.CPU != nil {
		info.CPU = c.cfg.CPU()
	} else {
		info.CPU = c.cpu.read(now)
	}
	err := c.reg.beat(ctx, info)
	if err == nil {
		err = c.renew(ctx, load.Rooms)
	}
	if err != nil {
		if c.up.Swap(false) || !c.warned {
			c.warned = true
			c.log.Warn("redis unreachable: serving own rooms, refusing new placements", "err", err)
		}
		return
	}
	if !c.up.Swap(true) {
		c.warned = false
		c.log.Info("registered", "url", c.cfg.NodeURL)
	}
}

// renew extends the lease of every room served here and drops those of
// rooms gone since the last beat. A draining node renews none: it drops
// them all (a lease already passed to another node is left alone).
func (c *Cluster) renew(ctx context.Context, rooms []string) error {
	if c.draining.Load() || c.cfg.Span {
		rooms = nil
	}
	now := make(map[string]struct{}, len(rooms))
	for _, r := range rooms {
		now[r] = struct{}{}
		ok, err := c.leases.extend(ctx, r, c.cfg.NodeID)
		if err != nil {
			return err
		}
		if !ok {
			// Split brain: placed elsewhere while Redis lost our lease.
			// Our participants stay; new joins go to the holder.
			c.log.Warn("room served here is leased to another node", "room", r)
		}
	}
	for r := range c.held {
		if _, ok := now[r]; !ok {
			if err := c.leases.drop(ctx, r, c.cfg.NodeID); err != nil {
				return err
			}
		}
	}
	c.held = now
	return nil
}

// Locate tells where room is served: "" when here, else the signaling URL
// of the node to redirect the client to. A room without a live holder is
// placed on the least-loaded live node. Errors wrap ErrUnavailable.
func (c *Cluster) Locate(ctx context.Context, room string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*opTimeout)
	defer cancel()
	if c.cfg.Span {
		return c.locateSpanning(ctx, room)
	}
	for range placeAttempts {
		holder, err := c.leases.holder(ctx, room)
		if err != nil {
			return "", err
		}
		if holder == c.cfg.NodeID && !c.draining.Load() {
			return "", nil
		}
		if holder == c.cfg.NodeID {
			// Draining: the room goes to another node.
			if err := c.leases.drop(ctx, room, holder); err != nil {
				return "", err
			}
		} else if holder != "" {
			n, ok, err := c.reg.node(ctx, holder)
			if err != nil {
				return "", err
			}
			if ok {
				return n.URL, nil
			}
			// The holder missed its heartbeats: its rooms are gone.
			c.log.Info("room holder is gone, placing anew", "room", room, "holder", holder)
			if err := c.leases.drop(ctx, room, holder); err != nil {
				return "", err
			}
		}
		url, placed, err := c.place(ctx, room)
		if err != nil || placed {
			return url, err
		}
	}
	return "", fmt.Errorf("%w: room %s: placement contended", ErrUnavailable, room)
}

// locateSpanning answers Locate when rooms span nodes: here, unless this
// node drains (then the least-loaded other live node) or its part of the
// room is full (then another node, see spillTo).
func (c *Cluster) locateSpanning(ctx context.Context, room string) (string, error) {
	draining := c.draining.Load()
	full := c.cfg.RoomShare > 0 && c.cfg.RoomSize != nil && c.cfg.RoomSize(room) >= c.cfg.RoomShare
	if !draining && !full {
		return "", nil
	}
	live, err := c.reg.live(ctx)
	if err != nil {
		if !draining {
			return "", nil // over the share beats refusing the join
		}
		return "", err
	}
	live = slices.DeleteFunc(live, func(n NodeInfo) bool { return n.ID == c.cfg.NodeID || n.Draining })
	if draining {
		best, ok := Choose(live, c.cfg.NodeID)
		if !ok {
			return "", fmt.Errorf("%w: no live node", ErrUnavailable)
		}
		return best.URL, nil
	}
	parts, err := c.Parts(ctx, room)
	if err != nil {
		return "", nil
	}
	return c.spillTo(live, parts), nil
}

// spillTo picks the node for a newcomer when this node's part of a room is
// full: the fullest other part that still has room (a room stays on as few
// nodes as it can), else the least-loaded live node without a part; ""
// (serve here, over the share) when every node is full.
func (c *Cluster) spillTo(live []NodeInfo, parts []Part) string {
	size := make(map[string]int, len(parts))
	for _, p := range parts {
		size[p.Node] = p.Size
	}
	var best *NodeInfo
	for i, n := range live {
		s, ok := size[n.ID]
		if !ok || s >= c.cfg.RoomShare {
			continue
		}
		if best == nil || s > size[best.ID] || (s == size[best.ID] && n.ID < best.ID) {
			best = &live[i]
		}
	}
	if best != nil {
		return best.URL
	}
	fresh := slices.DeleteFunc(slices.Clone(live), func(n NodeInfo) bool { _, ok := size[n.ID]; return ok })
	if n, ok := Choose(fresh, c.cfg.NodeID); ok {
		return n.URL
	}
	return ""
}

// place claims room for the least-loaded live node; placed is false when
// another node claimed it first (the caller reads the lease again).
func (c *Cluster) place(ctx context.Context, room string) (url string, placed bool, err error) {
	live, err := c.reg.live(ctx)
	if err != nil {
		return "", false, err
	}
	if c.draining.Load() {
		// Our own record may predate the drain.
		live = slices.DeleteFunc(live, func(n NodeInfo) bool { return n.ID == c.cfg.NodeID })
	}
	best, ok := Choose(live, c.cfg.NodeID)
	if !ok {
		return "", false, fmt.Errorf("%w: no live node", ErrUnavailable)
	}
	won, err := c.leases.claim(ctx, room, best.ID)
	if err != nil || !won {
		return "", false, err
	}
	c.log.Info("room placed", "room", room, "on", best.ID, "score", best.Score())
	if best.ID == c.cfg.NodeID {
		return "", true, nil
	}
	return best.URL, true, nil
}

// Nodes lists the live nodes, sorted by id.
func (c *Cluster) Nodes(ctx context.Context) ([]NodeInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	nodes, err := c.reg.live(ctx)
	slices.SortFunc(nodes, func(a, b NodeInfo) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return nodes, err
}

// Holder returns the id of the node holding room's lease ("" for none).
func (c *Cluster) Holder(ctx context.Context, room string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return c.leases.holder(ctx, room)
}
