package bot

import (
	"context"
	"fmt"

	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/webrtc/v4"
)

// ErrNotConnected is returned by requests before Connect.
var ErrNotConnected = fmt.Errorf("%w: not connected", ErrClosed)

// SetMuted mutes or unmutes the bot's own track of kind ("audio" or
// "video"): it sends mute and stops (or resumes) sending media. Video
// resumes on a keyframe.
func (b *Bot) SetMuted(ctx context.Context, kind string, muted bool) error {
	_, pub, _ := b.parts()
	if pub == nil {
		return ErrNotConnected
	}
	return pub.setMuted(ctx, kind, muted)
}

// Unpublish removes the bot's own track of kind: unpublish, then a new
// publish offer without it.
func (b *Bot) Unpublish(ctx context.Context, kind string) error {
	_, pub, _ := b.parts()
	if pub == nil {
		return ErrNotConnected
	}
	return pub.unpublish(ctx, kind)
}

// SetVideoSize tells the server the size of the tile showing a received
// track; 0x0 hides it. maxLayer < 0 leaves the layer cap out.
func (b *Bot) SetVideoSize(ctx context.Context, trackSID string, width, height, maxLayer int) error {
	m := &signaling.Message{Type: signaling.TypeSetVideoSize, TrackSID: trackSID, Width: width, Height: height}
	if maxLayer >= 0 {
		m.MaxLayer = &maxLayer
	}
	if err := b.request(ctx, m); err != nil {
		return err
	}
	// A hidden tile expects no frames: its silence is not a freeze.
	if _, _, sub := b.parts(); sub != nil {
		sub.setHidden(trackSID, width == 0 && height == 0)
	}
	return nil
}

// Subscribe asks for a track (needed with Subscribe=false or after
// Unsubscribe).
func (b *Bot) Subscribe(ctx context.Context, trackSID string) error {
	return b.request(ctx, &signaling.Message{Type: signaling.TypeSubscribe, TrackSID: trackSID})
}

// Unsubscribe stops receiving a track.
func (b *Bot) Unsubscribe(ctx context.Context, trackSID string) error {
	if err := b.request(ctx, &signaling.Message{Type: signaling.TypeUnsubscribe, TrackSID: trackSID}); err != nil {
		return err
	}
	if _, _, sub := b.parts(); sub != nil {
		sub.setGone(trackSID, "")
	}
	return nil
}

func (b *Bot) request(ctx context.Context, m *signaling.Message) error {
	sig := b.signal()
	if sig == nil {
		return ErrNotConnected
	}
	if _, err := sig.Request(ctx, m); err != nil {
		return fmt.Errorf("%s: %w", m.Type, err)
	}
	return nil
}

// Signal is the bot's signaling connection, for tests that send their own
// (also malformed) frames. Nil before Connect.
func (b *Bot) Signal() *Signal { return b.signal() }

// SessionID is the resume id the server gave in joined.
func (b *Bot) SessionID() string {
	b.partsMu.Lock()
	defer b.partsMu.Unlock()
	return b.sessionID
}

// LastErrors returns the error frames the server sent, oldest first.
func (b *Bot) LastErrors() []signaling.Message {
	if sig := b.signal(); sig != nil {
		return sig.LastErrors()
	}
	return nil
}

// StopReading makes the bot stop consuming RTP on every received track, as
// a stuck subscriber would; the connections stay up.
func (b *Bot) StopReading() {
	if _, _, sub := b.parts(); sub != nil {
		sub.stopReading()
	}
}

// Self is the bot's own participant as the server described it in joined.
func (b *Bot) Self() signaling.ParticipantInfo {
	b.partsMu.Lock()
	defer b.partsMu.Unlock()
	return b.self
}

// TrackSID returns the server's SID of the bot's own track of kind, or "".
func (b *Bot) TrackSID(kind string) string {
	_, pub, _ := b.parts()
	if pub == nil {
		return ""
	}
	lt, err := pub.track(kind)
	if err != nil {
		return ""
	}
	return lt.sid
}

// Participants are the other participants in the room now.
func (b *Bot) Participants() []signaling.ParticipantInfo { return b.room.participantList() }

// RemoteTracks are the tracks others publish now, as announced.
func (b *Bot) RemoteTracks() []RemoteTrack { return b.room.remoteTracks() }

// Events returns the server messages received so far (joined and every
// event, replies excluded), oldest first.
func (b *Bot) Events() []signaling.Message { return b.room.eventLog() }

// Stats returns a snapshot of the bot's measurements.
func (b *Bot) Stats() Stats {
	now := b.cfg.Now()
	s := Stats{At: now, State: b.state.Load().(string)}
	s.ParticipantSID = b.Self().SID
	_, pub, sub := b.parts()
	if pub != nil {
		s.Published = pub.stats()
	}
	if sub != nil {
		s.Tracks = sub.snapshot(now)
		s.SubscribeICERestarts = sub.restarts.Load()
	}
	s.Server = b.room.serverStats()
	s.Reconnects, s.PublishICERestarts = b.reconnects.Load(), b.pubRestarts.Load()
	s.Moves = b.moves.Load()
	s.sum()
	return s
}

// WaitStats blocks until cond holds for a snapshot and returns it.
func (b *Bot) WaitStats(ctx context.Context, cond func(Stats) bool) (Stats, error) {
	var last Stats
	err := b.notify.waitFor(ctx, b.done, func() bool {
		last = b.Stats()
		return cond(last)
	})
	return last, err
}

// WaitTracks blocks until at least n received tracks have delivered their
// first frame (a complete video frame, an audio packet) and not ended.
func (b *Bot) WaitTracks(ctx context.Context, n int) error {
	_, err := b.WaitStats(ctx, func(s Stats) bool { return s.Totals.TracksReceiving >= n })
	return err
}

// WaitMessage blocks until the bot has received a server event matching
// pred (events received before the call count) and returns it.
func (b *Bot) WaitMessage(ctx context.Context, pred func(*signaling.Message) bool) (*signaling.Message, error) {
	var found *signaling.Message
	err := b.notify.waitFor(ctx, b.done, func() bool {
		m, ok := b.room.findEvent(pred)
		found = m
		return ok
	})
	return found, err
}

// WaitParticipants blocks until at least n other participants are in the
// room.
func (b *Bot) WaitParticipants(ctx context.Context, n int) error {
	return b.notify.waitFor(ctx, b.done, func() bool { return len(b.room.participantList()) >= n })
}

// WaitRemoteTracks blocks until others have published at least n tracks.
func (b *Bot) WaitRemoteTracks(ctx context.Context, n int) error {
	return b.notify.waitFor(ctx, b.done, func() bool { return len(b.room.remoteTracks()) >= n })
}

// DropSignal ends the signaling socket without a close frame, as a network
// loss would; the bot resumes on a new socket by itself.
func (b *Bot) DropSignal() {
	if sig := b.signal(); sig != nil {
		sig.Drop()
	}
}

// SelectedCandidatePair is the candidate pair of the bot's publish or
// subscribe connection (target signaling.TargetPublish or
// TargetSubscribe); nil before ICE connected.
func (b *Bot) SelectedCandidatePair(target string) (*webrtc.ICECandidatePair, error) {
	_, pub, sub := b.parts()
	p := (*peer)(nil)
	switch {
	case target == signaling.TargetPublish && pub != nil:
		p = pub.peer
	case target == signaling.TargetSubscribe && sub != nil:
		p = sub.peer
	default:
		return nil, ErrNotConnected
	}
	pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil {
		return nil, fmt.Errorf("selected pair: %w", err)
	}
	return pair, nil
}

// StallLayer stops (or resumes) sending one simulcast layer of the camera,
// whatever the server asks for: the publisher's uplink trouble that
// subscribers of that layer must survive by falling back.
func (b *Bot) StallLayer(rid string, stalled bool) error {
	_, pub, _ := b.parts()
	if pub == nil {
		return ErrNotPublished
	}
	lt, err := pub.track("video")
	if err != nil {
		return err
	}
	for _, l := range lt.video.layers {
		if l.rid == rid {
			l.stalled.Store(stalled)
			if !stalled {
				lt.video.forceKeyframe()
			}
			return nil
		}
	}
	return fmt.Errorf("%w: no layer %q", ErrNotPublished, rid)
}
