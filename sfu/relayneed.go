package sfu

import (
	"time"

	"github.com/pion/rtcp"
)

// A relay carries every simulcast layer until the receiving node says which
// ones its subscribers need, in an RTCP APP packet (RFC 3550 §6.7) sent on
// the relay: one byte, bit i for layer i. The sending node then relays only
// those and, when its own subscribers need no more, lets the publisher
// pause the rest, as layersChanged does for a node's own subscribers.

// relayNeedName names hibiki's APP packet.
const relayNeedName = "HBKL"

// relayNeedEvery is how often the receiving node repeats its needs: RTCP
// travels over UDP, and a lost packet must not pin a layer on or off.
const relayNeedEvery = time.Second

// needMask packs active layers into the APP packet's byte.
func needMask(active []bool) uint8 {
	var m uint8
	for i, on := range active {
		if on && i < 8 {
			m |= 1 << i
		}
	}
	return m
}

// tellRelayNeed sends the layers a relayed track's subscribers need here
// to the node that relays it, when they changed or relayNeedEvery passed.
// Only the track's monitor calls it.
func (t *PublishedTrack) tellRelayNeed(active []bool, changed bool, now time.Time) {
	if !changed && now.Sub(t.needSent) < relayNeedEvery {
		return
	}
	pc := t.owner.feedPC(t.sid)
	t.mu.Lock()
	var ssrc uint32
	for _, r := range t.receivers {
		if r != nil {
			ssrc = r.ssrc
			break
		}
	}
	t.mu.Unlock()
	if pc == nil || ssrc == 0 {
		return
	}
	t.needSent = now
	app := &rtcp.ApplicationDefined{Name: relayNeedName, SSRC: ssrc, Data: []byte{needMask(active), 0, 0, 0}}
	if err := pc.WriteRTCP([]rtcp.Packet{app}); err != nil {
		t.logger.Debug("send relay needs", "err", err)
	}
}

// heardNeed applies the receiving node's APP packet to the relay.
func (o *relayOut) heardNeed(app *rtcp.ApplicationDefined) {
	if app.Name != relayNeedName || len(app.Data) == 0 || app.Data[0] == 0 {
		return
	}
	if uint32(app.Data[0]) != o.need.Swap(uint32(app.Data[0])) {
		o.track.poke()
	}
}

// needs reports whether the other node wants layer relayed: every layer
// until it has said otherwise.
func (o *relayOut) needs(layer int) bool {
	m := o.need.Load()
	return m == 0 || m&(1<<layer) != 0
}
