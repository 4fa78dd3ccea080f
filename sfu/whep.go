package sfu

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// ViewRequest asks to watch one publisher with one offer/answer exchange.
type ViewRequest struct {
	Room string
	// Publisher is a participant SID or identity; empty means the first
	// participant (in join order) that has media.
	Publisher string
	// Offer is the client's offer (receive-only media sections).
	Offer string
	// OnClose, when set, is called once when the viewer ends for any
	// reason (Close, its connection failed, its publisher's tracks ended).
	OnClose func()
}

// Viewer is a receive-only client that negotiates once, as WHEP does: the
// client offers, the server answers with a publisher's tracks attached. It
// is not a participant: the room does not see it, and since it never
// renegotiates, a track its publisher adds later is not sent to it. It
// reuses DownTrack, so layer selection, muting and keyframe requests work
// as for any subscriber.
type Viewer struct {
	sfu       *SFU
	sid       string
	publisher *Participant
	pc        *webrtc.PeerConnection
	logger    *slog.Logger
	onClose   func()
	relayOnly bool
	ready     atomic.Bool

	mu     sync.Mutex
	downs  []*DownTrack
	closed bool
}

// View creates a viewer of one publisher and returns it with the answer,
// which carries the candidates gathered before ctx ended.
func (s *SFU) View(ctx context.Context, req ViewRequest) (*Viewer, string, error) {
	pub, err := s.findPublisher(req.Room, req.Publisher)
	if err != nil {
		return nil, "", err
	}
	// A viewer only receives from us: the subscribe role's interceptors.
	// In a relay-only room it accepts relayed candidates only, like a
	// participant there.
	relayOnly := s.relayOnly || pub.room.RelayOnly()
	api, err := s.transport.newAPI(roleSubscribe, apiOptions{relayOnly: relayOnly})
	if err != nil {
		return nil, "", err
	}
	pc, err := api.NewPeerConnection(s.transport.pcConfig())
	if err != nil {
		return nil, "", fmt.Errorf("viewer connection: %w", err)
	}
	v := &Viewer{sfu: s, sid: newID("VI_"), publisher: pub, pc: pc, onClose: req.OnClose, relayOnly: relayOnly}
	v.logger = pub.logger.With("viewer", v.sid)
	answer, err := v.negotiate(ctx, req.Offer, pub.announcedTracks())
	if err != nil {
		v.mu.Lock()
		v.closed = true // an unfinished viewer ends without OnClose
		v.mu.Unlock()
		if cerr := pc.Close(); cerr != nil {
			v.logger.Debug("close viewer connection", "err", cerr)
		}
		return nil, "", err
	}
	downs := v.downTracks()
	pc.OnConnectionStateChange(v.stateChanged)
	for _, d := range downs {
		s.goroutine(d.readRTCP)
		d.track.addDownTrack(d)
	}
	v.logger.Info("viewer started", "tracks", len(v.downs))
	return v, answer, nil
}

// findPublisher resolves a participant SID or identity, or picks the first
// participant with media.
func (s *SFU) findPublisher(room, who string) (*Participant, error) {
	r := s.Room(room)
	if r == nil {
		return nil, ErrRoomNotFound
	}
	for _, p := range r.Participants() {
		switch {
		case who == "" && len(p.announcedTracks()) > 0, who != "" && (p.sid == who || p.identity == who):
			return p, nil
		}
	}
	return nil, ErrNotFound
}

// negotiate answers the offer with one downtrack per track that fits a
// media section of the offer.
func (v *Viewer) negotiate(ctx context.Context, offer string, tracks []*PublishedTrack) (string, error) {
	if v.relayOnly {
		var err error
		if offer, err = relayCandidatesOnly(offer); err != nil {
			return "", err
		}
	}
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	for _, t := range tracks {
		if err := v.attach(t); err != nil {
			return "", err
		}
	}
	if len(v.downTracks()) == 0 {
		return "", ErrNoMedia
	}
	answer, err := v.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: create answer: %w", ErrBadSDP, err)
	}
	if err := v.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: set answer: %w", ErrBadSDP, err)
	}
	waitGathering(ctx, v.pc)
	sdp := v.pc.LocalDescription().SDP
	if !acceptsMedia(sdp, webrtc.RTPTransceiverDirectionSendonly) {
		return "", ErrNoMedia
	}
	return sdp, nil
}

// attach puts t on a media section the offer made for its kind. pion's
// AddTrack reuses a section the offer created; when none is left it makes
// a new one, which this answer cannot carry, so that one is dropped.
func (v *Viewer) attach(t *PublishedTrack) error {
	d := newDownTrack(t, v)
	sender, err := v.pc.AddTrack(d)
	if err != nil {
		return fmt.Errorf("add track: %w", err)
	}
	for _, tr := range v.pc.GetTransceivers() {
		if tr.Sender() != sender {
			continue
		}
		if tr.Mid() == "" {
			return v.pc.RemoveTrack(sender)
		}
		c := t.codec
		c.PayloadType = 0
		if err := tr.SetCodecPreferences([]webrtc.RTPCodecParameters{c}); err != nil {
			v.logger.Debug("codec preference refused", "mime", c.MimeType, "err", err)
		}
	}
	d.sender = sender
	v.mu.Lock()
	v.downs = append(v.downs, d)
	v.mu.Unlock()
	return nil
}

// SID returns the viewer's server-assigned id.
func (v *Viewer) SID() string { return v.sid }

// Publisher returns the participant the viewer watches.
func (v *Viewer) Publisher() *Participant { return v.publisher }

// AddCandidate adds a trickled remote candidate.
func (v *Viewer) AddCandidate(c webrtc.ICECandidateInit) error {
	if err := checkCandidate(c); err != nil {
		return err
	}
	if v.relayOnly && !strings.Contains(c.Candidate, " typ relay") {
		v.logger.Debug("non-relay candidate ignored in relay-only mode")
		return nil
	}
	if err := v.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCandidate, err)
	}
	return nil
}

func (v *Viewer) stateChanged(s webrtc.PeerConnectionState) {
	v.logger.Debug("viewer connection state", "state", s)
	switch s {
	case webrtc.PeerConnectionStateConnected:
		if !v.ready.Swap(true) {
			for _, d := range v.downTracks() {
				d.track.requestKeyframe(d.targetLayer())
			}
		}
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		v.Close()
	}
}

func (v *Viewer) downTracks() []*DownTrack {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*DownTrack(nil), v.downs...)
}

// Close stops forwarding to the viewer and closes its connection. It is
// idempotent.
func (v *Viewer) Close() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	downs := v.downs
	v.downs = nil
	v.mu.Unlock()
	for _, d := range downs {
		d.track.removeDownTrack(d)
	}
	// OnClose runs before the connection closes, so a client that sees
	// its connection end finds the session gone.
	if v.onClose != nil {
		v.onClose()
	}
	if err := v.pc.Close(); err != nil {
		v.logger.Debug("close viewer connection", "err", err)
	}
	v.logger.Info("viewer ended")
}

// mediaReady implements downstream.
func (v *Viewer) mediaReady() bool { return v.ready.Load() }

func (v *Viewer) log() *slog.Logger { return v.logger }

// notify implements downstream: a WHEP viewer has no channel for events.
func (v *Viewer) notify(Event) {}

// reallocate implements downstream: a WHEP viewer has no bandwidth
// allocator (its connection gets the size-based layer choice only).
func (v *Viewer) reallocate() {}

// allowResend implements downstream: without an estimator a viewer's
// retransmissions are limited only per packet (sequencer.resent).
func (v *Viewer) allowResend(int, bool) bool { return true }

// dropSubscription implements downstream: the publisher's track ended. The
// viewer cannot renegotiate, so it ends with its last track.
func (v *Viewer) dropSubscription(d *DownTrack) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	for i, x := range v.downs {
		if x == d {
			v.downs = append(v.downs[:i], v.downs[i+1:]...)
			break
		}
	}
	empty := len(v.downs) == 0
	v.mu.Unlock()
	if empty {
		v.Close()
	}
}
