package cluster

// Weights of a node's load score. A participant costs 1; a room costs 2 on
// top of its participants (a room's fixed work: speaker detection, timers);
// each forwarded Mbit/s costs 0.5 and each busy core 4. The score only
// ranks nodes, so the units need not mean more than that.
const (
	weightRoom = 2
	weightMbps = 0.5
	weightCore = 4
)

// Score ranks a node's load: lower is less loaded.
func (n NodeInfo) Score() float64 {
	return float64(n.Participants) + weightRoom*float64(n.Rooms) +
		weightMbps*float64(n.BitrateBps)/1e6 + weightCore*n.CPU
}

// Choose returns the least-loaded node of live that is not draining. Ties go to self (the node
// asking, which saves the client a redirect), then to the smaller id, so a
// choice never depends on the order Redis listed the nodes in. ok is false
// when no node qualifies.
func Choose(live []NodeInfo, self string) (best NodeInfo, ok bool) {
	for _, n := range live {
		if n.Draining {
			continue
		}
		if !ok || better(n, best, self) {
			best, ok = n, true
		}
	}
	return best, ok
}

func better(a, b NodeInfo, self string) bool {
	sa, sb := a.Score(), b.Score()
	if sa != sb {
		return sa < sb
	}
	if (a.ID == self) != (b.ID == self) {
		return a.ID == self
	}
	return a.ID < b.ID
}
