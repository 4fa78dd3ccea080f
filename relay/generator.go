package relay

import (
	"fmt"
	"net"
	"strings"

	"github.com/pion/turn/v5"
)

// generator hands out relay addresses on the SFU's own IPs, one per
// address family: a client reaching the TURN server over IPv6 gets an IPv6
// relay (RFC 6156), and nothing is ever bound to another interface.
type generator struct {
	v4, v6 *turn.RelayAddressGeneratorStatic
}

func newGenerator(ips []net.IP) *generator {
	g := &generator{}
	for _, ip := range ips {
		static := &turn.RelayAddressGeneratorStatic{RelayAddress: ip, Address: ip.String()}
		switch {
		case ip.To4() != nil && g.v4 == nil:
			g.v4 = static
		case ip.To4() == nil && g.v6 == nil:
			g.v6 = static
		}
	}
	return g
}

func (g *generator) pick(network string) (*turn.RelayAddressGeneratorStatic, error) {
	s := g.v4
	if strings.HasSuffix(network, "6") {
		s = g.v6
	}
	if s == nil {
		return nil, fmt.Errorf("%w: no relay address for %s", ErrConfig, network)
	}
	return s, nil
}

// Validate implements turn.RelayAddressGenerator.
func (g *generator) Validate() error {
	for _, s := range []*turn.RelayAddressGeneratorStatic{g.v4, g.v6} {
		if s != nil {
			if err := s.Validate(); err != nil {
				return fmt.Errorf("relay address %s: %w", s.Address, err)
			}
		}
	}
	return nil
}

// AllocatePacketConn implements turn.RelayAddressGenerator.
func (g *generator) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	s, err := g.pick(c.Network)
	if err != nil {
		return nil, nil, err
	}
	return s.AllocatePacketConn(c)
}

// AllocateListener implements turn.RelayAddressGenerator.
func (g *generator) AllocateListener(c turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	s, err := g.pick(c.Network)
	if err != nil {
		return nil, nil, err
	}
	return s.AllocateListener(c)
}

// AllocateConn implements turn.RelayAddressGenerator.
func (g *generator) AllocateConn(c turn.AllocateConnConfig) (net.Conn, error) {
	s, err := g.pick(c.Network)
	if err != nil {
		return nil, err
	}
	return s.AllocateConn(c)
}

// permitOnly grants TURN permissions only towards the given addresses.
func permitOnly(ips []net.IP) turn.PermissionHandler {
	return func(_ net.Addr, peer net.IP) bool {
		for _, ip := range ips {
			if ip.Equal(peer) {
				return true
			}
		}
		return false
	}
}
