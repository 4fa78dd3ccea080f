package e2e

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// lossyNet is the bot's network with inbound UDP loss: once enabled, each
// datagram read is dropped with probability percent/100, as a lossy last
// hop would. It emulates loss without a network namespace: pion takes it
// through SettingEngine.SetNet.
type lossyNet struct {
	transport.Net
	percent int
	on      atomic.Bool
	dropped atomic.Uint64
	passed  atomic.Uint64

	mu  sync.Mutex
	rng *rand.Rand
}

func newLossyNet(percent int, seed uint64) (*lossyNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &lossyNet{Net: n, percent: percent, rng: rand.New(rand.NewPCG(seed, seed))}, nil
}

func (n *lossyNet) drop() bool {
	if !n.on.Load() {
		return false
	}
	n.mu.Lock()
	d := n.rng.IntN(100) < n.percent
	n.mu.Unlock()
	if d {
		n.dropped.Add(1)
	} else {
		n.passed.Add(1)
	}
	return d
}

// ListenUDP wraps the socket ICE gathers host candidates on.
func (n *lossyNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &lossyConn{UDPConn: c, n: n}, nil
}

type lossyConn struct {
	transport.UDPConn
	n *lossyNet
}

func (c *lossyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.n.drop() {
			return n, addr, err
		}
	}
}
