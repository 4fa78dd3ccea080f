package sfu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"
)

// A room can span nodes (docs/cluster.md, "Rooms across nodes"): each node
// holding a part of it serves its own clients, shows the participants of the
// other parts as remote participants, and receives their tracks over relays,
// one per (track, node) pair. On the receiving node a relayed track is a
// published track like any other, so layer selection, keyframe requests,
// NACKs and bandwidth estimation toward its subscribers work unchanged;
// the relay hop answers its own NACKs and forwards its keyframe requests to
// the publisher. What the parts tell each other (who is where, which tracks
// exist) travels outside the sfu package: it only offers the operations.

// ErrNotRemote refuses a relay for a participant that is local here: a node
// never relays a track back to the node that publishes it.
var ErrNotRemote = errors.New("sfu: participant is local to this node")

// RelayOffer is what the sending node says when it opens a relay: whose
// track it carries, as the sending node knows them, and its SDP offer.
type RelayOffer struct {
	Room        string
	Participant ParticipantInfo
	Track       TrackInfo
	SDP         string
}

// Remote reports whether the participant is served by another node: a
// stand-in for a participant of another part of a spanning room.
func (p *Participant) Remote() bool { return p.origin != "" }

// Origin returns the id of the node that serves a remote participant, ""
// for a local one.
func (p *Participant) Origin() string { return p.origin }

// Local returns the participants this node serves, in join order.
func (r *Room) Local() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Participant, 0, len(r.order))
	for _, p := range r.order {
		if p.origin == "" {
			out = append(out, p)
		}
	}
	return out
}

// LocalInfos describes the participants this node serves with their
// announced tracks: what the other parts of a spanning room need to know.
func (r *Room) LocalInfos() []ParticipantInfo {
	ps := r.Local()
	out := make([]ParticipantInfo, len(ps))
	for i, p := range ps {
		out[i] = p.Info()
	}
	return out
}

// localCountLocked counts the local participants; r.mu must be held.
func (r *Room) localCountLocked() int {
	n := 0
	for _, p := range r.order {
		if p.origin == "" {
			n++
		}
	}
	return n
}

// SyncRemote makes the remote participants served by node match infos: new
// ones join (the local participants are told), gone ones leave, tracks that
// went away are unpublished and mute changes applied. A nil infos removes
// every participant of node (the node left the room or died).
func (r *Room) SyncRemote(node string, infos []ParticipantInfo) {
	if node == "" {
		return
	}
	want := make(map[string]ParticipantInfo, len(infos))
	for _, info := range infos {
		want[info.SID] = info
	}
	for _, p := range r.Participants() {
		if p.origin != node {
			continue
		}
		info, ok := want[p.sid]
		if !ok {
			p.Leave()
			continue
		}
		delete(want, p.sid)
		p.syncTracks(info.Tracks)
	}
	for _, info := range infos {
		if _, ok := want[info.SID]; !ok {
			continue
		}
		if _, err := r.addRemote(node, info); err != nil {
			r.logger.Debug("remote participant not added", "sid", info.SID, "node", node, "err", err)
		}
	}
}

// addRemote adds the stand-in of a participant served by node, or returns
// the one already there.
func (r *Room) addRemote(node string, info ParticipantInfo) (*Participant, error) {
	r.mu.Lock()
	if q := r.participants[info.SID]; q != nil {
		r.mu.Unlock()
		if q.origin == "" {
			return nil, ErrNotRemote
		}
		return q, nil
	}
	if r.closed {
		r.mu.Unlock()
		return nil, errRoomClosing
	}
	p := &Participant{
		room:       r,
		sid:        info.SID,
		identity:   info.Identity,
		name:       info.Name,
		origin:     node,
		published:  make(map[string]*PublishedTrack),
		pending:    make(map[string]TrackRequest),
		pendingSID: make(map[string]string),
		subs:       make(map[string]*DownTrack),
		relayIn:    make(map[string]*webrtc.PeerConnection),
		done:       make(chan struct{}),
	}
	p.logger = r.logger.With("participant", p.sid, "origin", node)
	p.neg.p = p
	p.neg.stopped = true // it never subscribes here
	r.participants[p.sid] = p
	r.order = append(r.order, p)
	others := make([]*Participant, 0, len(r.order))
	for _, q := range r.order {
		if q != p {
			others = append(others, q)
		}
	}
	r.mu.Unlock()
	p.expect(info.Tracks)
	joined := ParticipantJoined{Participant: p.Info()}
	for _, q := range others {
		q.notify(joined)
	}
	r.evaluateP2P() // a third participant ends a direct pair
	p.logger.Info("remote participant joined", "identity", p.identity)
	return p, nil
}

// expect registers the tracks a remote participant publishes, so the relay
// carrying each is recognised by its SID when its media arrives.
func (p *Participant) expect(tracks []TrackInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range tracks {
		if _, ok := p.published[t.SID]; ok {
			continue
		}
		p.pending[t.SID] = TrackRequest{
			ClientID: t.SID, Kind: t.Kind, Source: t.Source, Name: t.Name, Muted: t.Muted,
			Width: t.Width, Height: t.Height, Layers: t.Layers,
		}
		p.pendingSID[t.SID] = t.SID
	}
}

// syncTracks applies a remote participant's current track list: tracks no
// longer listed are unpublished, mute states follow.
func (p *Participant) syncTracks(tracks []TrackInfo) {
	listed := make(map[string]TrackInfo, len(tracks))
	for _, t := range tracks {
		listed[t.SID] = t
	}
	p.mu.Lock()
	var gone []string
	for sid := range p.published {
		if _, ok := listed[sid]; !ok {
			gone = append(gone, sid)
		}
	}
	for cid := range p.pending {
		if _, ok := listed[cid]; !ok {
			delete(p.pending, cid)
			delete(p.pendingSID, cid)
		}
	}
	p.mu.Unlock()
	for _, sid := range gone {
		p.dropRelayIn(sid)
		_ = p.Unpublish(sid)
	}
	p.expect(tracks)
	for _, t := range tracks {
		_ = p.SetMuted(t.SID, t.Muted)
	}
}

// AcceptRelay answers a relay offer from node: the track it carries is
// published here by the stand-in of its participant (added if the parts'
// news has not arrived yet). A relay for a track already relayed replaces
// the old one, which a sending node does after its relay failed.
func (r *Room) AcceptRelay(ctx context.Context, node string, offer RelayOffer) (string, error) {
	if node == "" || offer.Track.SID == "" || offer.Participant.SID == "" {
		return "", fmt.Errorf("%w: relay offer without node, participant or track", ErrBadSDP)
	}
	if offer.Track.Kind != KindAudio && offer.Track.Kind != KindVideo {
		return "", ErrBadKind
	}
	p, err := r.addRemote(node, offer.Participant)
	if err != nil {
		return "", err
	}
	if p.origin != node {
		return "", fmt.Errorf("%w: participant %s is served by %s, not %s", ErrNotRemote, p.sid, p.origin, node)
	}
	sid := offer.Track.SID
	p.dropRelayIn(sid)
	if p.publishedTrack(sid) != nil {
		_ = p.Unpublish(sid)
	}
	p.expect([]TrackInfo{offer.Track})

	levels, err := r.speakers.interceptor(p)
	if err != nil {
		return "", err
	}
	// One relay connection per track: they differ only in this side's port.
	api, err := r.sfu.transport.newAPI(rolePublish, apiOptions{ownPort: true}, levels)
	if err != nil {
		return "", err
	}
	pc, err := api.NewPeerConnection(r.sfu.transport.pcConfig())
	if err != nil {
		return "", fmt.Errorf("relay connection: %w", err)
	}
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.logger.Debug("relay in", "track", sid, "state", s)
		if s == webrtc.PeerConnectionStateFailed {
			// The sending node is gone or cut off: the track ends here;
			// a new relay publishes it again.
			if p.relayInIs(sid, pc) {
				p.dropRelayIn(sid)
				_ = p.Unpublish(sid)
			}
		}
	})
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = pc.Close()
		return "", ErrClosed
	}
	p.relayIn[sid] = pc
	p.mu.Unlock()
	r.sfu.opts.stats.RelaysIn.Add(1)
	answer, err := answerComplete(ctx, pc, offer.SDP)
	if err != nil {
		p.dropRelayIn(sid)
		return "", err
	}
	return answer, nil
}

// answerComplete answers offer on pc and waits for ICE gathering, so the
// answer carries every candidate (relays are not trickled).
func answerComplete(ctx context.Context, pc *webrtc.PeerConnection, offer string) (string, error) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: create answer: %w", ErrBadSDP, err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: set answer: %w", ErrBadSDP, err)
	}
	if err := waitGathered(ctx, gathered); err != nil {
		return "", err
	}
	return pc.LocalDescription().SDP, nil
}

// relayGatherTimeout bounds ICE gathering of a relay connection.
const relayGatherTimeout = 5 * time.Second

func waitGathered(ctx context.Context, gathered <-chan struct{}) error {
	t := time.NewTimer(relayGatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("relay: gathering: %w", ctx.Err())
	case <-t.C:
		return fmt.Errorf("relay: gathering: %w", context.DeadlineExceeded)
	}
}

// relayInIs reports whether pc still carries track sid.
func (p *Participant) relayInIs(sid string, pc *webrtc.PeerConnection) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.relayIn[sid] == pc
}

// dropRelayIn closes the relay that carries track sid, if any.
func (p *Participant) dropRelayIn(sid string) {
	p.mu.Lock()
	pc := p.relayIn[sid]
	delete(p.relayIn, sid)
	p.mu.Unlock()
	if pc != nil {
		p.room.sfu.opts.stats.RelaysIn.Add(-1)
		if err := pc.Close(); err != nil {
			p.logger.Debug("close relay", "track", sid, "err", err)
		}
	}
}

// dropRelaysIn closes every relay of a remote participant.
func (p *Participant) dropRelaysIn() {
	p.mu.Lock()
	sids := make([]string, 0, len(p.relayIn))
	for sid := range p.relayIn {
		sids = append(sids, sid)
	}
	p.mu.Unlock()
	for _, sid := range sids {
		p.dropRelayIn(sid)
	}
}

// feedPC is the connection a track's media arrives on: the publish
// connection of a local participant, the track's relay for a remote one.
func (p *Participant) feedPC(sid string) *webrtc.PeerConnection {
	if p.origin == "" {
		return p.existingPublishPC()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.relayIn[sid]
}

// RemoteNodes lists the nodes serving remote participants of the room.
func (r *Room) RemoteNodes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.order {
		if p.origin != "" && !slices.Contains(out, p.origin) {
			out = append(out, p.origin)
		}
	}
	return out
}
