package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// ErrNotPublished is returned for operations on a kind the bot does not
// publish.
var ErrNotPublished = errors.New("bot: track not published")

// localTrack is one published track and its send loop.
type localTrack struct {
	kind, sid, cid string
	sender         *webrtc.RTPSender
	video          *videoSender
	audio          *audioSender
	cancel         context.CancelFunc
	done           chan struct{}
	muted          bool
}

// publisher owns the publish connection. The bot is the offerer there, so
// negotiations are serialized by negMu: one offer in flight.
type publisher struct {
	peer    *peer
	sig     *Signal
	log     *slog.Logger
	answers chan *signaling.Message // publish answers that came without an id

	negMu sync.Mutex

	mu     sync.Mutex
	tracks map[string]*localTrack // by kind
}

func newPublisher(p *peer, sig *Signal, log *slog.Logger) *publisher {
	return &publisher{
		peer: p, sig: sig, log: log,
		answers: make(chan *signaling.Message, 1),
		tracks:  make(map[string]*localTrack),
	}
}

// publish announces the configured tracks, adds them to the connection,
// negotiates, then starts sending. Send loops run on wg until ctx ends.
func (p *publisher) publish(ctx, life context.Context, wg *sync.WaitGroup, cfg Config, identity string) error {
	streamID := "bot-" + identity
	var added []*localTrack
	if !cfg.NoAudio {
		lt, err := p.addAudio(ctx, cfg, streamID)
		if err != nil {
			return err
		}
		added = append(added, lt)
	}
	if !cfg.NoVideo {
		lt, err := p.addVideo(ctx, cfg, streamID)
		if err != nil {
			return err
		}
		added = append(added, lt)
	}
	if len(added) == 0 {
		return nil
	}
	if err := p.negotiate(ctx); err != nil {
		return err
	}
	for _, lt := range added {
		p.start(life, wg, lt)
	}
	return nil
}

func (p *publisher) addAudio(ctx context.Context, cfg Config, streamID string) (*localTrack, error) {
	a := newAudioSender(cfg.Media.Audio, cfg.Speaking, streamID+"-mic", streamID, p.log)
	info := &signaling.TrackInfo{ClientID: a.track.ID(), Kind: "audio", Source: signaling.SourceMicrophone, Name: "microphone"}
	lt := &localTrack{kind: "audio", cid: info.ClientID, audio: a}
	tracks := []*rtpTrack{a.track}
	return lt, p.add(ctx, lt, info, tracks)
}

func (p *publisher) addVideo(ctx context.Context, cfg Config, streamID string) (*localTrack, error) {
	clips := []*media.VideoClip{cfg.Media.Video[1]}
	rids := []string{""}
	if cfg.Simulcast {
		clips = cfg.Media.Video[:]
		r := media.RIDs()
		rids = r[:]
	}
	v := newVideoSender(clips, rids, streamID+"-camera", streamID, p.log)
	top := clips[len(clips)-1]
	info := &signaling.TrackInfo{
		ClientID: v.layers[0].track.ID(), Kind: "video", Source: signaling.SourceCamera, Name: "camera",
		Simulcast: cfg.Simulcast, Width: top.Width, Height: top.Height,
	}
	if cfg.Simulcast {
		for i, c := range clips {
			info.Layers = append(info.Layers, signaling.Layer{RID: rids[i], Width: c.Width, Height: c.Height})
		}
	}
	lt := &localTrack{kind: "video", cid: info.ClientID, video: v}
	tracks := make([]*rtpTrack, len(v.layers))
	for i, l := range v.layers {
		tracks[i] = l.track
	}
	return lt, p.add(ctx, lt, info, tracks)
}

// add sends publish (the server wants it before the offer that carries the
// track) and attaches the track's encodings to a sendonly transceiver.
func (p *publisher) add(ctx context.Context, lt *localTrack, info *signaling.TrackInfo, tracks []*rtpTrack) error {
	reply, err := p.sig.Request(ctx, &signaling.Message{Type: signaling.TypePublish, Track: info})
	if err != nil {
		return fmt.Errorf("publish %s: %w", lt.kind, err)
	}
	if reply.Track == nil || reply.Track.SID == "" {
		return fmt.Errorf("publish %s: %w: reply without track sid", lt.kind, ErrProtocol)
	}
	lt.sid = reply.Track.SID
	tr, err := p.peer.pc.AddTransceiverFromTrack(tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("add %s transceiver: %w", lt.kind, err)
	}
	for _, t := range tracks[1:] {
		if err := tr.Sender().AddEncoding(t); err != nil {
			return fmt.Errorf("add %s encoding %s: %w", lt.kind, t.RID(), err)
		}
	}
	for _, t := range tracks {
		t.mid = tr.Mid
	}
	lt.sender = tr.Sender()
	p.mu.Lock()
	p.tracks[lt.kind] = lt
	p.mu.Unlock()
	return nil
}

// start runs the track's send loop and its RTCP readers. The RTCP readers
// end when the sender stops (RemoveTrack or the connection closing).
func (p *publisher) start(life context.Context, wg *sync.WaitGroup, lt *localTrack) {
	ctx, cancel := context.WithCancel(life)
	lt.cancel, lt.done = cancel, make(chan struct{})
	sender := lt.sender
	var send func()
	var readers []func()
	if lt.audio != nil {
		send = func() { lt.audio.run(ctx) }
		readers = append(readers, func() { lt.audio.readRTCP(rtcpReader(sender, "")) })
	} else {
		send = func() { lt.video.run(ctx) }
		for _, l := range lt.video.layers {
			readers = append(readers, func() { lt.video.readRTCP(l.rid, rtcpReader(sender, l.rid)) })
		}
	}
	wg.Add(1 + len(readers))
	go func() {
		defer wg.Done()
		defer close(lt.done)
		send()
	}()
	for _, r := range readers {
		go func() {
			defer wg.Done()
			r()
		}()
	}
}

func rtcpReader(s *webrtc.RTPSender, rid string) func() ([]rtcp.Packet, error) {
	if rid == "" {
		return func() ([]rtcp.Packet, error) {
			pkts, _, err := s.ReadRTCP()
			return pkts, err
		}
	}
	return func() ([]rtcp.Packet, error) {
		pkts, _, err := s.ReadSimulcastRTCP(rid)
		return pkts, err
	}
}

// negotiate sends an offer and applies the answer. The answer is the reply
// to the offer's id; one without an id is accepted too.
func (p *publisher) negotiate(ctx context.Context) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	return p.offerLocked(ctx, nil)
}

// offerLocked creates, sends and completes one offer; negMu is held.
func (p *publisher) offerLocked(ctx context.Context, opts *webrtc.OfferOptions) error {
	offer, err := p.peer.pc.CreateOffer(opts)
	if err != nil {
		return fmt.Errorf("create publish offer: %w", err)
	}
	if err := p.peer.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set publish offer: %w", err)
	}
	return p.sendOfferLocked(ctx, offer.SDP)
}

func (p *publisher) sendOfferLocked(ctx context.Context, sdp string) error {
	// Drop an answer to an earlier offer that came late, without an id.
	select {
	case <-p.answers:
	default:
	}
	id := p.sig.newID()
	msg := &signaling.Message{Type: signaling.TypeOffer, ID: id, Target: signaling.TargetPublish, SDP: sdp}
	reply, err := p.sig.requestOr(ctx, id, msg, p.answers)
	if err != nil {
		return fmt.Errorf("publish offer: %w", err)
	}
	if reply.Type != signaling.TypeAnswer || reply.SDP == "" {
		return fmt.Errorf("%w: publish offer answered with %q", ErrProtocol, reply.Type)
	}
	return p.peer.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: reply.SDP})
}

// recover brings the publish connection back after a network or socket
// loss: an offer whose answer was lost is sent again; a connection whose
// ICE is disconnected or failed is renegotiated with an ICE restart. It
// reports whether it restarted ICE.
func (p *publisher) recover(ctx context.Context) (bool, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	pc := p.peer.pc
	if pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		desc := pc.LocalDescription()
		if desc == nil {
			return false, nil
		}
		p.log.Info("re-sending the unanswered publish offer")
		return false, p.sendOfferLocked(ctx, desc.SDP)
	}
	switch pc.ICEConnectionState() {
	case webrtc.ICEConnectionStateDisconnected, webrtc.ICEConnectionStateFailed:
	default:
		return false, nil
	}
	p.log.Info("restarting ICE on the publish connection", "state", pc.ICEConnectionState().String())
	return true, p.offerLocked(ctx, &webrtc.OfferOptions{ICERestart: true})
}

func (p *publisher) track(kind string) (*localTrack, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	lt, ok := p.tracks[kind]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotPublished, kind)
	}
	return lt, nil
}

func (p *publisher) trackBySID(sid string) *localTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, lt := range p.tracks {
		if lt.sid == sid {
			return lt
		}
	}
	return nil
}

// unpublish tells the server, stops the track and renegotiates.
func (p *publisher) unpublish(ctx context.Context, kind string) error {
	lt, err := p.track(kind)
	if err != nil {
		return err
	}
	if _, err := p.sig.Request(ctx, &signaling.Message{Type: signaling.TypeUnpublish, TrackSID: lt.sid}); err != nil {
		return fmt.Errorf("unpublish %s: %w", kind, err)
	}
	p.mu.Lock()
	delete(p.tracks, kind)
	p.mu.Unlock()
	if lt.cancel != nil {
		lt.cancel()
		<-lt.done
	}
	if err := p.peer.pc.RemoveTrack(lt.sender); err != nil {
		return fmt.Errorf("remove %s sender: %w", kind, err)
	}
	return p.negotiate(ctx)
}

// setMuted tells the server and stops (or resumes) sending.
func (p *publisher) setMuted(ctx context.Context, kind string, muted bool) error {
	lt, err := p.track(kind)
	if err != nil {
		return err
	}
	if _, err := p.sig.Request(ctx, &signaling.Message{Type: signaling.TypeMute, TrackSID: lt.sid, Muted: &muted}); err != nil {
		return fmt.Errorf("mute %s: %w", kind, err)
	}
	p.mu.Lock()
	lt.muted = muted
	p.mu.Unlock()
	if lt.audio != nil {
		lt.audio.muted.Store(muted)
	} else {
		lt.video.setMuted(muted)
	}
	return nil
}

func (p *publisher) layersChanged(sid string, active []bool) {
	if lt := p.trackBySID(sid); lt != nil && lt.video != nil {
		p.log.Debug("layers changed", "sid", sid, "active", active)
		lt.video.setActive(active)
	}
}

func (p *publisher) stats() []PublishedStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PublishedStats, 0, len(p.tracks))
	for _, kind := range []string{"audio", "video"} {
		lt, ok := p.tracks[kind]
		if !ok {
			continue
		}
		s := PublishedStats{TrackSID: lt.sid, ClientID: lt.cid, Kind: kind, Muted: lt.muted}
		if lt.audio != nil {
			s.Layers = lt.audio.stats()
		} else {
			s.Layers = lt.video.stats()
			s.PLIs, s.FIRs, s.KeyframeJumps = lt.video.plis.Load(), lt.video.firs.Load(), lt.video.jumps.Load()
		}
		out = append(out, s)
	}
	return out
}
