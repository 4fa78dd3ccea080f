// Package cluster lets several hibiki nodes share one room namespace through
// Redis (docs/cluster.md). It holds no media: each node registers itself and
// its load (registry.go), rooms are placed on the least-loaded live node
// (placement.go) and owned through a lease (lease.go), and Cluster (cluster.go)
// answers the one question signaling asks on a join: is this room served
// here, or where else? Lobby (lobby.go, lobbyview.go) makes the lobby
// cluster-wide: per-node entries replicated through a hash and pub/sub,
// and messages from node to node for invites.
//
// Redis is consulted on joins only. When it is unreachable, rooms this node
// already serves keep working; new placements fail with ErrUnavailable.
package cluster
