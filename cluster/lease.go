package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lease scripts compare the holder before they touch the key, so a node
// never renews or drops a lease that has passed to another node.
const (
	// renewScript extends the lease if this node holds it, or takes it if
	// nobody does (Redis lost it, e.g. a restart without persistence).
	// Returns 1 when held afterwards, 0 when another node holds it.
	renewScript = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`
	// releaseScript deletes the lease if ARGV[1] holds it.
	releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
)

// leases maps a room to the node that serves it. A lease is SET NX with a
// TTL; its holder renews it on every heartbeat while the room lives and
// releases it when the room closes.
type leases struct {
	rdb     redis.UniversalClient
	prefix  string
	ttl     time.Duration
	renew   *redis.Script
	release *redis.Script
}

func newLeases(rdb redis.UniversalClient, prefix string, ttl time.Duration) *leases {
	return &leases{
		rdb: rdb, prefix: prefix, ttl: ttl,
		renew:   redis.NewScript(renewScript),
		release: redis.NewScript(releaseScript),
	}
}

func (l *leases) key(room string) string { return l.prefix + "room:" + room }

// holder returns the node holding room's lease, "" when none does.
func (l *leases) holder(ctx context.Context, room string) (string, error) {
	id, err := l.rdb.Get(ctx, l.key(room)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%w: read lease of %s: %w", ErrUnavailable, room, err)
	}
	return id, nil
}

// claim gives room to node if nobody holds it; it reports whether it did.
func (l *leases) claim(ctx context.Context, room, node string) (bool, error) {
	ok, err := l.rdb.SetNX(ctx, l.key(room), node, l.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("%w: claim %s: %w", ErrUnavailable, room, err)
	}
	return ok, nil
}

// extend renews node's lease on room (taking it when free); false means
// another node holds it.
func (l *leases) extend(ctx context.Context, room, node string) (bool, error) {
	n, err := l.renew.Run(ctx, l.rdb, []string{l.key(room)}, node, l.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("%w: renew %s: %w", ErrUnavailable, room, err)
	}
	return n == 1, nil
}

// drop deletes the lease on room if node holds it.
func (l *leases) drop(ctx context.Context, room, node string) error {
	if err := l.release.Run(ctx, l.rdb, []string{l.key(room)}, node).Err(); err != nil {
		return fmt.Errorf("%w: release %s: %w", ErrUnavailable, room, err)
	}
	return nil
}
