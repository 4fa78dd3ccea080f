package cluster

import (
	"context"
	"fmt"
	"log/slog"
)

// RedisLog carries go-redis's internal messages (pool dial failures, one per
// command while Redis is down) into slog at debug level: Cluster already
// logs the loss and the return of Redis once each. go-redis takes its logger
// process-wide (redis.SetLogger), so only cmd/hibiki installs it.
type RedisLog struct{ Logger *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (l RedisLog) Printf(ctx context.Context, format string, v ...any) {
	l.Logger.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
