package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Errors of the cluster package.
var (
	// ErrUnavailable reports that the placement store (Redis) cannot be
	// reached or answered nonsense: a new room cannot be placed now.
	ErrUnavailable = errors.New("cluster: placement unavailable")
	// ErrConfig reports an unusable Config.
	ErrConfig = errors.New("cluster: invalid config")
)

// Defaults of Config.
const (
	DefaultHeartbeat = 2 * time.Second
	DefaultNodeTTL   = 10 * time.Second
	DefaultPrefix    = "hibiki:"
	opTimeout        = time.Second
)

// Config configures one node's membership.
type Config struct {
	// Address is the Redis host:port. Required.
	Address  string
	Password string
	DB       int
	// Prefix starts every key (default "hibiki:"), so several clusters can
	// share one Redis.
	Prefix string
	// NodeID names this node; it must be unique in the cluster.
	NodeID string
	// NodeURL is the public signaling URL clients are redirected to.
	NodeURL string
	// Heartbeat is how often the node writes its load and renews its room
	// leases (default 2 s); NodeTTL is how long both live without renewal
	// (default 10 s): a node silent that long is gone.
	Heartbeat, NodeTTL time.Duration
	// Load reports this node's rooms and counters; called on every heartbeat.
	Load func() Load
	// CPU, when set, replaces the process CPU meter (busy cores). Several
	// nodes in one process (tests) share its CPU time, which then ranks
	// them at random.
	CPU func() float64
	// Span: rooms span nodes (the cascade package). Every join is served
	// by the node it reaches, so rooms hold no lease and placement only
	// matters for a draining node, which sends its clients to the
	// least-loaded other node.
	Span bool
	// RoomShare, with Span, is how many participants of one room a node
	// serves before it sends newcomers to another node (0: no limit).
	// RoomSize tells how many it serves now.
	RoomShare int
	RoomSize  func(room string) int
	// Logger receives structured logs.
	Logger *slog.Logger
}

// Load is what a node knows about its own work.
type Load struct {
	// Rooms names the rooms open on this node.
	Rooms []string
	// Participants counts participants over all rooms.
	Participants int
	// BytesOut is the cumulative count of forwarded media bytes.
	BytesOut uint64
}

func (c Config) withDefaults() (Config, error) {
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.NodeTTL <= 0 {
		c.NodeTTL = DefaultNodeTTL
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Load == nil {
		c.Load = func() Load { return Load{} }
	}
	switch {
	case c.Address == "":
		return c, fmt.Errorf("%w: redis address is empty", ErrConfig)
	case c.NodeID == "":
		return c, fmt.Errorf("%w: node id is empty", ErrConfig)
	case !strings.HasPrefix(c.NodeURL, "ws://") && !strings.HasPrefix(c.NodeURL, "wss://"):
		return c, fmt.Errorf("%w: node url %q must be a ws:// or wss:// URL", ErrConfig, c.NodeURL)
	case c.Heartbeat >= c.NodeTTL:
		return c, fmt.Errorf("%w: heartbeat %v must be shorter than the node ttl %v", ErrConfig, c.Heartbeat, c.NodeTTL)
	}
	return c, nil
}
