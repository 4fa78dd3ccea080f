package cluster

import "github.com/redis/go-redis/v9"

// listen subscribes to channels and hands every subscription confirmation
// and message to handle, on one goroutine tracked by the Cluster, until it
// is closed. go-redis re-subscribes by itself after Redis comes back, and
// confirms each channel again: a handler that may have missed changes
// hears of it there. buffer sizes the message queue.
func (c *Cluster) listen(buffer int, handle func(any), channels ...string) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ps := c.rdb.Subscribe(c.ctx, channels...)
		ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(buffer))
		defer func() {
			_ = ps.Close()
			for range ch {
				// Drain: go-redis's goroutine may be blocked sending to ch.
			}
		}()
		for {
			select {
			case <-c.ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				handle(m)
			}
		}
	}()
}
