package bot

import (
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/webrtc/v4"
)

// Kill ends the bot the way a crashed client or a pulled cable would: the
// signaling socket is dropped without a close frame or a leave, and both
// peer connections are closed without telling the server. The server only
// learns of it through its timeouts.
func (b *Bot) Kill() error {
	b.state.Store(StateClosed)
	b.cancel() // no resume
	if sig := b.signal(); sig != nil {
		sig.Drop()
	}
	return b.Close()
}

// LocalDescription is the SDP the bot last applied as its local description
// on the publish (an offer) or subscribe (an answer) connection: what the
// server parsed from it. Empty before there is one.
func (b *Bot) LocalDescription(target string) string {
	_, pub, sub := b.parts()
	var pc *webrtc.PeerConnection
	switch {
	case target == signaling.TargetPublish && pub != nil:
		pc = pub.peer.pc
	case target == signaling.TargetSubscribe && sub != nil:
		pc = sub.peer.pc
	default:
		return ""
	}
	if d := pc.LocalDescription(); d != nil {
		return d.SDP
	}
	return ""
}
