package cluster

import "testing"

func TestChoose(t *testing.T) {
	node := func(id string, rooms, parts int, bps uint64, cpu float64) NodeInfo {
		return NodeInfo{ID: id, Rooms: rooms, Participants: parts, BitrateBps: bps, CPU: cpu}
	}
	tests := []struct {
		name string
		live []NodeInfo
		self string
		want string // "" = none
	}{
		{"no node", nil, "a", ""},
		{"only node", []NodeInfo{node("b", 9, 90, 0, 1)}, "a", "b"},
		{"fewest participants", []NodeInfo{node("a", 1, 10, 0, 0), node("b", 1, 3, 0, 0)}, "a", "b"},
		{"a node with a room loses to an empty one", []NodeInfo{node("a", 1, 0, 0, 0), node("b", 0, 0, 0, 0)}, "a", "b"},
		{"rooms weigh more than participants", []NodeInfo{node("a", 2, 0, 0, 0), node("b", 1, 3, 0, 0)}, "c", "a"},
		{"bitrate breaks an even count", []NodeInfo{node("a", 1, 2, 8e6, 0), node("b", 1, 2, 1e6, 0)}, "c", "b"},
		{"cpu counts", []NodeInfo{node("a", 0, 0, 0, 1.5), node("b", 1, 1, 0, 0)}, "c", "b"},
		{"tie goes to self", []NodeInfo{node("a", 1, 1, 0, 0), node("b", 1, 1, 0, 0)}, "b", "b"},
		{"tie without self goes to the smaller id", []NodeInfo{node("c", 0, 0, 0, 0), node("b", 0, 0, 0, 0)}, "a", "b"},
		{"a draining node is never chosen", []NodeInfo{{ID: "a", Draining: true}, node("b", 9, 90, 0, 1)}, "a", "b"},
		{"only draining nodes", []NodeInfo{{ID: "a", Draining: true}}, "a", ""},
		{"order of the list does not matter", []NodeInfo{node("b", 0, 0, 0, 0), node("c", 0, 0, 0, 0)}, "a", "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Choose(tt.live, tt.self)
			if tt.want == "" {
				if ok {
					t.Fatalf("Choose = %s, want none", got.ID)
				}
				return
			}
			if !ok || got.ID != tt.want {
				t.Fatalf("Choose = %q (ok %v), want %q", got.ID, ok, tt.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	tests := []struct {
		n    NodeInfo
		want float64
	}{
		{NodeInfo{}, 0},
		{NodeInfo{Rooms: 1, Participants: 2}, 4},
		{NodeInfo{BitrateBps: 4e6}, 2},
		{NodeInfo{CPU: 0.5}, 2},
	}
	for _, tt := range tests {
		if got := tt.n.Score(); got != tt.want {
			t.Errorf("%+v.Score() = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"complete", Config{Address: "x:1", NodeID: "a", NodeURL: "ws://a/ws"}, true},
		{"no address", Config{NodeID: "a", NodeURL: "ws://a/ws"}, false},
		{"no id", Config{Address: "x:1", NodeURL: "ws://a/ws"}, false},
		{"http url", Config{Address: "x:1", NodeID: "a", NodeURL: "http://a/ws"}, false},
		{"heartbeat not below ttl", Config{Address: "x:1", NodeID: "a", NodeURL: "wss://a/ws", Heartbeat: 10e9, NodeTTL: 10e9}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.cfg.withDefaults()
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && (c.Heartbeat != DefaultHeartbeat || c.NodeTTL != DefaultNodeTTL || c.Prefix != DefaultPrefix) {
				t.Fatalf("defaults not applied: %+v", c)
			}
		})
	}
}

func TestSpillTo(t *testing.T) {
	n := func(id string, participants int) NodeInfo {
		return NodeInfo{ID: id, URL: "ws://" + id, Participants: participants}
	}
	part := func(node string, size int) Part { return Part{Node: node, Size: size} }
	tests := []struct {
		name  string
		live  []NodeInfo // other live nodes
		parts []Part     // other nodes' parts of the room
		want  string     // node id, "" = serve here
	}{
		{"no other node", nil, nil, ""},
		{"a node with room in its part", []NodeInfo{n("b", 50), n("c", 0)}, []Part{part("b", 1)}, "b"},
		{"the fullest part with room wins", []NodeInfo{n("b", 0), n("c", 0)}, []Part{part("b", 1), part("c", 2)}, "c"},
		{"full parts are skipped", []NodeInfo{n("b", 0), n("c", 9)}, []Part{part("b", 3)}, "c"},
		{"no part: the least-loaded node", []NodeInfo{n("b", 5), n("c", 1)}, nil, "c"},
		{"every node full: serve here", []NodeInfo{n("b", 0)}, []Part{part("b", 3)}, ""},
		{"a part of a node that is not live is ignored", []NodeInfo{n("c", 0)}, []Part{part("b", 0)}, "c"},
	}
	c := &Cluster{cfg: Config{NodeID: "a", RoomShare: 3}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := ""
			if tt.want != "" {
				want = "ws://" + tt.want
			}
			if got := c.spillTo(tt.live, tt.parts); got != want {
				t.Errorf("spillTo = %q, want %q", got, want)
			}
		})
	}
}
