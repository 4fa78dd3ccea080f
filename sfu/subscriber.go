package sfu

import (
	"fmt"

	"github.com/pion/webrtc/v4"
)

// HandleAnswer applies the client's answer on the subscribe connection.
func (p *Participant) HandleAnswer(sdp string) error { return p.neg.handleAnswer(sdp) }

// Subscribe starts forwarding a published track of the room to p.
func (p *Participant) Subscribe(trackSID string) error {
	t := p.room.findTrack(trackSID)
	if t == nil || t.owner == p {
		return ErrTrackNotFound
	}
	return p.subscribe(t)
}

func (p *Participant) subscribe(t *PublishedTrack) error {
	direct := p.room.isDirect(p, t.owner)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if _, ok := p.subs[t.sid]; ok {
		p.mu.Unlock()
		return ErrAlreadySubscribed
	}
	d := newDownTrack(t, p)
	if direct {
		// The peer receives this track over the direct connection.
		d.direct.Store(true)
		d.fwd.SetPaused(true)
	}
	p.subs[t.sid] = d
	p.mu.Unlock()

	sender, err := p.sub.AddTrack(d)
	if err != nil {
		p.mu.Lock()
		delete(p.subs, t.sid)
		p.mu.Unlock()
		return fmt.Errorf("add track: %w", err)
	}
	for _, tr := range p.sub.GetTransceivers() {
		if tr.Sender() == sender {
			c := t.codec
			c.PayloadType = 0 // let the subscribe connection's engine pick its own
			if err := tr.SetCodecPreferences([]webrtc.RTPCodecParameters{c}); err != nil {
				p.logger.Debug("codec preference refused", "mime", c.MimeType, "err", err)
			}
		}
	}
	d.sender = sender
	p.room.sfu.goroutine(d.readRTCP)
	t.addDownTrack(d)
	p.neg.schedule()
	return nil
}

// Unsubscribe stops forwarding a track to p.
func (p *Participant) Unsubscribe(trackSID string) error {
	p.mu.Lock()
	d, ok := p.subs[trackSID]
	delete(p.subs, trackSID)
	p.mu.Unlock()
	if !ok {
		return ErrTrackNotFound
	}
	d.track.removeDownTrack(d)
	return nil
}

// dropSubscription is called by a closing track for each of its downtracks.
func (p *Participant) dropSubscription(d *DownTrack) {
	p.mu.Lock()
	if p.subs[d.track.sid] == d {
		delete(p.subs, d.track.sid)
	}
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return
	}
	if d.sender != nil {
		if err := p.sub.RemoveTrack(d.sender); err != nil {
			p.logger.Debug("remove track", "err", err)
		}
	}
	p.neg.schedule()
}

// SetVideoSize records the size of the tile showing a subscribed track; the
// forwarder picks the smallest layer that covers it. maxLayer < 0 means no
// cap. A zero size pauses the subscription (the tile is hidden).
func (p *Participant) SetVideoSize(trackSID string, width, height, maxLayer int) error {
	p.mu.Lock()
	d, ok := p.subs[trackSID]
	p.mu.Unlock()
	if !ok {
		return ErrTrackNotFound
	}
	d.setWanted(width, height, maxLayer)
	return nil
}

// Subscriptions returns the SIDs of the tracks p receives.
func (p *Participant) Subscriptions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.subs))
	for sid := range p.subs {
		out = append(out, sid)
	}
	return out
}

func (p *Participant) downTracks() []*DownTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*DownTrack, 0, len(p.subs))
	for _, d := range p.subs {
		out = append(out, d)
	}
	return out
}
