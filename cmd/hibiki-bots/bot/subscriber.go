package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// subscriber owns the subscribe connection: it answers the server's offers
// in order and runs one reader per received track.
type subscriber struct {
	peer   *peer
	sig    *Signal
	log    *slog.Logger
	now    func() time.Time
	notify *notifier
	room   *roomState

	offers   chan *signaling.Message
	stopRead chan struct{}
	stopOnce sync.Once

	restarts atomic.Int64 // server ICE restarts seen in offers

	mu     sync.Mutex
	mids   map[string]string // mid -> track SID, from the latest offer
	hidden map[string]bool   // track SIDs the bot sized 0x0
	tracks []*remoteTrack
}

func newSubscriber(p *peer, sig *Signal, room *roomState, n *notifier, now func() time.Time, log *slog.Logger) *subscriber {
	return &subscriber{
		peer: p, sig: sig, log: log, now: now, notify: n, room: room,
		offers:   make(chan *signaling.Message, 16),
		stopRead: make(chan struct{}),
		mids:     make(map[string]string),
		hidden:   make(map[string]bool),
	}
}

// run answers offers until ctx ends. Track readers are started on wg so the
// bot's Close waits for them.
func (s *subscriber) run(ctx context.Context, wg *sync.WaitGroup) {
	s.peer.pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		rt := s.addTrack(t, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.read(ctx, t, rt)
		}()
	})
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-s.offers:
			if err := s.answer(m); err != nil {
				s.log.Warn("subscribe offer", "err", err)
			}
		}
	}
}

func (s *subscriber) answer(m *signaling.Message) error {
	s.mu.Lock()
	if m.Mids != nil {
		s.mids = m.Mids
	}
	s.mu.Unlock()
	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}
	if prev := sdpUfrag(s.peer.pc.RemoteDescription()); prev != "" && prev != sdpUfrag(&offer) {
		s.restarts.Add(1)
		s.notify.notify() // Stats changed: wake WaitStats
	}
	if err := s.peer.setRemote(offer); err != nil {
		return err
	}
	ans, err := s.peer.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := s.peer.pc.SetLocalDescription(ans); err != nil {
		return fmt.Errorf("set local answer: %w", err)
	}
	return s.sig.Send(&signaling.Message{Type: signaling.TypeAnswer, Target: signaling.TargetSubscribe, SDP: ans.SDP})
}

// addTrack maps a new remote track to its track SID: by the mids map of the
// offer, falling back to the msid track id.
func (s *subscriber) addTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) *remoteTrack {
	mid := ""
	for _, tr := range s.peer.pc.GetTransceivers() {
		if tr.Receiver() == r {
			mid = tr.Mid()
			break
		}
	}
	var levelID uint8
	for _, e := range r.GetParameters().HeaderExtensions {
		if e.URI == AudioLevelURI {
			levelID = uint8(e.ID)
		}
	}
	s.mu.Lock()
	sid := s.mids[mid]
	s.mu.Unlock()
	if sid == "" {
		sid = t.ID()
	}
	kind := t.Kind().String()
	info := s.room.trackInfo(sid)
	rt := newRemoteTrack(sid, t.StreamID(), kind, mid, uint32(t.SSRC()), t.Codec().ClockRate, info.ExpectedAt)
	rt.levelID = levelID
	rt.setPaused(info.Muted, info.Paused)
	s.mu.Lock()
	rt.setHidden(s.hidden[sid])
	s.tracks = append(s.tracks, rt)
	s.mu.Unlock()
	s.log.Debug("track", "sid", sid, "kind", kind, "mid", mid, "participant", t.StreamID())
	s.notify.notify()
	return rt
}

// read consumes one track's RTP until it ends, the bot closes, or
// StopReading is called (then it stops consuming and only waits for ctx).
func (s *subscriber) read(ctx context.Context, t *webrtc.TrackRemote, rt *remoteTrack) {
	defer func() {
		rt.end()
		s.notify.notify()
	}()
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		select {
		case <-s.stopRead:
			<-ctx.Done()
			return
		default:
		}
		n, _, err := t.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.log.Debug("track read", "sid", rt.sid, "err", err)
			}
			return
		}
		if err := p.Unmarshal(buf[:n]); err != nil {
			continue
		}
		res := rt.handle(&p, n, s.now())
		if res.pli {
			err := s.peer.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.SSRC())}})
			s.log.Debug("decoder stuck, sent PLI", "sid", rt.sid, "err", err)
		}
		if res.freeze > 0 {
			s.log.Info("video froze", "sid", rt.sid, "gap", res.freeze)
		}
		if res.width > 0 {
			s.log.Debug("resolution", "sid", rt.sid, "width", res.width, "height", res.height)
		}
		s.notify.notify()
	}
}

func (s *subscriber) stopReading() { s.stopOnce.Do(func() { close(s.stopRead) }) }

// setPaused forwards trackMuted / subscriptionPaused to the live track.
func (s *subscriber) setPaused(sid string, muted, paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rt := range s.tracks {
		if rt.sid == sid {
			rt.setPaused(muted, paused)
		}
	}
}

// setGone marks the tracks matching sid (track SID) or participantSID as
// no longer due.
func (s *subscriber) setGone(sid, participantSID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rt := range s.tracks {
		if (sid != "" && rt.sid == sid) || (participantSID != "" && rt.participantSID == participantSID) {
			rt.setGone()
		}
	}
}

// setHidden applies the bot's own setVideoSize 0x0 (or a size again).
func (s *subscriber) setHidden(sid string, hidden bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hidden {
		s.hidden[sid] = true
	} else {
		delete(s.hidden, sid)
	}
	for _, rt := range s.tracks {
		if rt.sid == sid {
			rt.setHidden(hidden)
		}
	}
}

// inherit takes over the received tracks of old, the subscriber of the
// session before a move, so their counts stay in Stats (they have ended).
func (s *subscriber) inherit(old *subscriber) {
	old.mu.Lock()
	tracks := append([]*remoteTrack(nil), old.tracks...)
	old.mu.Unlock()
	s.mu.Lock()
	s.tracks = append(tracks, s.tracks...)
	s.mu.Unlock()
}

func (s *subscriber) snapshot(now time.Time) []TrackStats {
	s.mu.Lock()
	tracks := append([]*remoteTrack(nil), s.tracks...)
	s.mu.Unlock()
	out := make([]TrackStats, len(tracks))
	for i, rt := range tracks {
		out[i] = rt.snapshot(now)
	}
	return out
}
