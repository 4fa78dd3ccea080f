package sfu

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hibiki-sfu/hibiki/bwe"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// Grants are the permissions a participant holds, checked on each request.
type Grants struct {
	CanPublish     bool
	CanSubscribe   bool
	CanPublishData bool
}

// JoinRequest is what a verified token says about a participant.
type JoinRequest struct {
	Identity      string
	Name          string
	Grants        Grants
	AutoSubscribe bool
	// P2P: the client can take part in direct two-party calls
	// (capabilities ["p2p"] in its join).
	P2P bool
}

// Participant is one client in a room with its two peer connections: pub
// carries its own media (client offers), sub carries the media of others
// (server offers), so negotiations never collide.
type Participant struct {
	room          *Room
	sid           string
	identity      string
	name          string
	grants        Grants
	autoSubscribe bool
	p2pCapable    bool
	// origin is the node serving a remote participant ("" when local):
	// its tracks arrive over relays (remote.go), one per track in relayIn.
	origin   string
	notifier Notifier
	logger   *slog.Logger

	pub *webrtc.PeerConnection
	sub *webrtc.PeerConnection
	// subReady is set once the subscribe connection's DTLS is up: pion
	// silently drops what is written before, so forwarding (and the first
	// keyframe request) waits for it.
	subReady atomic.Bool
	// data is the participant's data relay link; nil when data is disabled.
	data *dataLink
	// dataRate bounds what the participant sends on its data channels.
	dataRate dataRate
	// relayOnly: only TURN-relayed candidate pairs are accepted.
	relayOnly atomic.Bool
	// done is closed when the participant leaves; it ends its watchers.
	done chan struct{}

	// alloc spends the subscribe connection's bandwidth estimate; its loop
	// runs until stopAlloc.
	alloc     *bwe.Allocator
	stopAlloc context.CancelFunc
	// est is the subscribe connection's estimator (nil without bandwidth
	// estimation); subRoute the candidate pair it measures, "" until the
	// first is selected (both under mu).
	est      *bwe.Estimator
	subRoute string
	resends  *resendBudget

	mu         sync.Mutex
	published  map[string]*PublishedTrack        // by SID
	pending    map[string]TrackRequest           // announced, not yet arrived; by client id
	pendingSID map[string]string                 // client id -> SID assigned at announce
	subs       map[string]*DownTrack             // by published track SID
	pubCands   []webrtc.ICECandidateInit         // arrived before the offer of their ICE generation
	relayIn    map[string]*webrtc.PeerConnection // by track SID; remote participants only
	closed     bool

	neg negotiator
}

func newParticipant(r *Room, req JoinRequest, n Notifier) (*Participant, error) {
	p := &Participant{
		room:          r,
		sid:           newID("PA_"),
		identity:      req.Identity,
		name:          req.Name,
		grants:        req.Grants,
		autoSubscribe: req.AutoSubscribe,
		p2pCapable:    req.P2P,
		notifier:      n,
		published:     make(map[string]*PublishedTrack),
		pending:       make(map[string]TrackRequest),
		pendingSID:    make(map[string]string),
		subs:          make(map[string]*DownTrack),
		done:          make(chan struct{}),
	}
	p.logger = r.logger.With("participant", p.sid)
	p.neg.p = p
	relayOnly := r.sfu.relayOnly || r.RelayOnly()
	p.relayOnly.Store(relayOnly)
	var est *bwe.EstimatorFactory
	subOpts := apiOptions{relayOnly: relayOnly}
	if !r.sfu.opts.noBWE {
		f, err := bwe.NewEstimatorFactory(r.sfu.opts.estimator...)
		if err != nil {
			return nil, fmt.Errorf("bandwidth estimator: %w", err)
		}
		est, subOpts.first = f, f
	}
	subAPI, err := r.sfu.transport.newAPI(roleSubscribe, subOpts)
	if err != nil {
		return nil, err
	}
	if p.sub, err = subAPI.NewPeerConnection(r.sfu.transport.pcConfig()); err != nil {
		return nil, fmt.Errorf("subscribe connection: %w", err)
	}
	p.wirePeer(p.sub, TargetSubscribe)
	if !r.sfu.opts.data.Disabled {
		if err := p.openData(); err != nil {
			p.closePeers()
			return nil, err
		}
	}
	if est != nil {
		if err := p.startAllocator(est.Estimator()); err != nil {
			p.closePeers()
			return nil, err
		}
	}
	return p, nil
}

// publishPC returns the publish connection, creating it on first use: a
// participant that only watches never pays for a second connection.
func (p *Participant) publishPC() (*webrtc.PeerConnection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pub != nil {
		return p.pub, nil
	}
	if p.closed {
		return nil, ErrClosed
	}
	levels, err := p.room.speakers.interceptor(p)
	if err != nil {
		return nil, err
	}
	api, err := p.room.sfu.transport.newAPI(rolePublish, apiOptions{relayOnly: p.relayOnly.Load()}, levels)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(p.room.sfu.transport.pcConfig())
	if err != nil {
		return nil, fmt.Errorf("publish connection: %w", err)
	}
	p.wirePeer(pc, TargetPublish)
	pc.OnTrack(p.onTrack)
	p.pub = pc
	return pc, nil
}

// existingPublishPC returns the publish connection or nil.
func (p *Participant) existingPublishPC() *webrtc.PeerConnection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pub
}

func (p *Participant) wirePeer(pc *webrtc.PeerConnection, target Target) {
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		// The generation tag lets the client tell candidates of an ICE
		// restart from those of the session they replace.
		if ufrag := sdpUfrag(pc.LocalDescription()); ufrag != "" {
			init.UsernameFragment = &ufrag
		}
		p.notify(LocalCandidate{Target: target, Candidate: init})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.logger.Debug("connection state", "target", target, "state", s)
		p.notify(PeerStateChanged{Target: target, State: s})
		if target == TargetSubscribe && s == webrtc.PeerConnectionStateConnected && !p.subReady.Swap(true) {
			for _, d := range p.downTracks() {
				d.track.requestKeyframe(d.targetLayer())
			}
		}
	})
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		p.logger.Debug("ice state", "target", target, "state", s)
		// The server offers on the subscribe connection, so restarting
		// it is the server's job; the client restarts the publish side.
		if target == TargetSubscribe && (s == webrtc.ICEConnectionStateDisconnected || s == webrtc.ICEConnectionStateFailed) {
			p.neg.restartICE()
		}
	})
	pc.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
		p.logger.Debug("selected candidate pair", "target", target, "pair", pair.String())
		p.checkRelayed(target, pair)
		if target == TargetSubscribe {
			p.subscribeRoute(pair)
		}
	})
}

// SID returns the participant's server-assigned id.
func (p *Participant) SID() string { return p.sid }

// Identity returns the identity from the participant's token.
func (p *Participant) Identity() string { return p.identity }

// Grants returns the participant's permissions.
func (p *Participant) Grants() Grants { return p.grants }

// Room returns the participant's room.
func (p *Participant) Room() *Room { return p.room }

// Info returns the public view of the participant with its announced tracks.
func (p *Participant) Info() ParticipantInfo {
	info := ParticipantInfo{SID: p.sid, Identity: p.identity, Name: p.name}
	for _, t := range p.announcedTracks() {
		info.Tracks = append(info.Tracks, t.Info())
	}
	return info
}

func (p *Participant) notify(ev Event) {
	if p.notifier != nil {
		p.notifier.Notify(ev)
	}
}

// announcedTracks returns the tracks whose media has arrived.
func (p *Participant) announcedTracks() []*PublishedTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*PublishedTrack, 0, len(p.published))
	for _, t := range p.published {
		if t.isAnnounced() {
			out = append(out, t)
		}
	}
	return out
}

func (p *Participant) publishedTrack(sid string) *PublishedTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published[sid]
}

// Publish announces a track the client is about to send. The SID returned
// is the one the room will know the track by once its media arrives.
func (p *Participant) Publish(req TrackRequest) (TrackInfo, error) {
	if req.Kind != KindAudio && req.Kind != KindVideo {
		return TrackInfo{}, ErrBadKind
	}
	if req.ClientID == "" {
		return TrackInfo{}, fmt.Errorf("%w: track has no client id", ErrBadKind)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return TrackInfo{}, ErrClosed
	}
	max := p.room.sfu.opts.maxTracks
	if max > 0 && len(p.published)+len(p.pending) >= max {
		p.room.sfu.opts.stats.TracksRefused.Add(1)
		return TrackInfo{}, ErrTooManyTracks
	}
	sid, ok := p.pendingSID[req.ClientID]
	if !ok {
		sid = newID("TR_")
	}
	p.pending[req.ClientID] = req
	p.pendingSID[req.ClientID] = sid
	return TrackInfo{
		SID: sid, ClientID: req.ClientID, Kind: req.Kind, Source: req.Source, Name: req.Name,
		Muted: req.Muted, Simulcast: len(req.Layers) > 1, Width: req.Width, Height: req.Height, Layers: req.Layers,
	}, nil
}

// HandleOffer applies the client's offer on the publish connection and
// returns the answer.
func (p *Participant) HandleOffer(sdp string) (string, error) {
	if p.relayOnly.Load() {
		var err error
		if sdp, err = relayCandidatesOnly(sdp); err != nil {
			return "", err
		}
	}
	pub, err := p.publishPC()
	if err != nil {
		return "", err
	}
	if err := pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	p.mu.Lock()
	cands := p.pubCands
	p.pubCands = nil
	p.mu.Unlock()
	p.flushCandidates(pub, cands)
	answer, err := pub.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: create answer: %w", ErrBadSDP, err)
	}
	if err := pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: set answer: %w", ErrBadSDP, err)
	}
	return pub.LocalDescription().SDP, nil
}

// AddCandidate adds a trickled remote candidate to one connection. A
// candidate tagged with another ICE generation than the current remote
// description (it overtook the offer or answer of an ICE restart) waits
// for that description.
func (p *Participant) AddCandidate(target Target, c webrtc.ICECandidateInit) error {
	// pion skips candidates it cannot parse without an error; a client
	// sending garbage deserves to hear about it.
	cand, err := ice.UnmarshalCandidate(c.Candidate)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadCandidate, err)
	}
	if p.relayOnly.Load() && cand.Type() != ice.CandidateTypeRelay {
		p.logger.Debug("non-relay candidate ignored in relay-only mode", "target", target, "type", cand.Type().String())
		return nil
	}
	switch target {
	case TargetPublish:
		pub := p.existingPublishPC()
		if pub == nil || !matchesGeneration(pub.RemoteDescription(), c) {
			p.mu.Lock()
			if len(p.pubCands) < maxQueuedCandidates {
				p.pubCands = append(p.pubCands, c)
			}
			p.mu.Unlock()
			return nil
		}
		if err := pub.AddICECandidate(c); err != nil {
			return fmt.Errorf("%w: %w", ErrBadCandidate, err)
		}
	case TargetSubscribe:
		return p.neg.addCandidate(c)
	default:
		return fmt.Errorf("%w: unknown target", ErrBadCandidate)
	}
	return nil
}

// onTrack attaches arriving media (one call per simulcast layer) to the
// published track it belongs to.
func (p *Participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	t, first := p.trackFor(remote)
	if t == nil {
		return
	}
	t.addLayer(remote, recv)
	if first {
		p.room.trackPublished(p, t)
	}
}

// trackFor finds or creates the published track a remote track belongs to.
// first reports that this call created it (its media just arrived).
func (p *Participant) trackFor(remote *webrtc.TrackRemote) (t *PublishedTrack, first bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false
	}
	for _, t := range p.published {
		if t.cid == remote.ID() {
			return t, false
		}
	}
	req, ok := p.pending[remote.ID()]
	sid := p.pendingSID[remote.ID()]
	if !ok {
		// Media without an announcement: accept it as the kind says, as a
		// WHIP-style client would send it.
		kind := KindAudio
		source := "microphone"
		if remote.Kind() == webrtc.RTPCodecTypeVideo {
			kind, source = KindVideo, "camera"
		}
		req = TrackRequest{ClientID: remote.ID(), Kind: kind, Source: source}
		sid = newID("TR_")
	}
	delete(p.pending, remote.ID())
	delete(p.pendingSID, remote.ID())
	t = newPublishedTrack(p, sid, req, remote.Codec())
	p.published[sid] = t
	return t, true
}

// Unpublish stops a track and ends every subscription to it.
func (p *Participant) Unpublish(sid string) error {
	p.mu.Lock()
	t, ok := p.published[sid]
	delete(p.published, sid)
	if !ok {
		// Announced but its media never came: forget the announcement so
		// it stops counting against the track limit.
		for cid, s := range p.pendingSID {
			if s == sid {
				delete(p.pendingSID, cid)
				delete(p.pending, cid)
				p.mu.Unlock()
				return nil
			}
		}
	}
	p.mu.Unlock()
	if !ok {
		return ErrTrackNotFound
	}
	t.close()
	p.room.trackUnpublished(p, t)
	return nil
}

// SetMuted mutes or unmutes one of the participant's tracks. A muted track
// forwards nothing; unmuting waits for a keyframe for video.
func (p *Participant) SetMuted(sid string, muted bool) error {
	t := p.publishedTrack(sid)
	if t == nil {
		// A track announced but not yet arrived can be muted too.
		p.mu.Lock()
		defer p.mu.Unlock()
		for cid, s := range p.pendingSID {
			if s == sid {
				req := p.pending[cid]
				req.Muted = muted
				p.pending[cid] = req
				return nil
			}
		}
		return ErrTrackNotFound
	}
	if t.setMuted(muted) {
		p.room.trackMuted(p, t, muted)
	}
	return nil
}

// Leave removes the participant from its room and closes its connections.
func (p *Participant) Leave() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	tracks := make([]*PublishedTrack, 0, len(p.published))
	for _, t := range p.published {
		tracks = append(tracks, t)
	}
	p.published = map[string]*PublishedTrack{}
	subs := make([]*DownTrack, 0, len(p.subs))
	for _, d := range p.subs {
		subs = append(subs, d)
	}
	p.subs = map[string]*DownTrack{}
	p.mu.Unlock()

	p.room.leave(p)
	for _, t := range tracks {
		t.close()
		p.room.trackUnpublished(p, t)
	}
	for _, d := range subs {
		d.track.removeDownTrack(d)
	}
	p.neg.stop()
	close(p.done)
	p.closePeers()
}

func (p *Participant) closePeers() {
	p.dropRelaysIn()
	if p.stopAlloc != nil {
		p.stopAlloc()
	}
	if p.data != nil {
		p.data.close()
	}
	for _, pc := range []*webrtc.PeerConnection{p.existingPublishPC(), p.sub} {
		// A remote participant has neither: its relays are closed above.
		if pc != nil {
			if err := pc.Close(); err != nil {
				p.logger.Debug("close peer connection", "err", err)
			}
		}
	}
}

// layerIndex maps a simulcast RID to a spatial layer index: the order the
// publisher announced, else the q/h/f convention, else a trailing digit.
func layerIndex(rid string, announced []LayerSpec) int {
	if rid == "" {
		return 0
	}
	for i, l := range announced {
		if l.RID == rid {
			return i
		}
	}
	switch strings.ToLower(rid) {
	case "q", "l", "low":
		return 0
	case "h", "m", "mid", "medium":
		return 1
	case "f", "high", "full":
		return 2
	}
	if c := rid[len(rid)-1]; c >= '0' && c <= '2' {
		return int(c - '0')
	}
	return 0
}
