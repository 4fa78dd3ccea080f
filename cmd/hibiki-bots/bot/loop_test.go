package bot

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// loopServer is a one-participant stand-in for hibiki: it answers the
// bot's publish offer with real pion PeerConnections on loopback, checks
// what the bot sends, and forwards the lowest layer and the audio back to
// the same bot on the subscribe connection.
type loopServer struct {
	t        *testing.T
	pub, sub *webrtc.PeerConnection
	audioOut *webrtc.TrackLocalStaticRTP
	videoOut *webrtc.TrackLocalStaticRTP

	mu          sync.Mutex
	layers      map[string]*layerSeen // by rid ("" without simulcast)
	audio       audioSeen
	pliAt       time.Time
	keyAfterPLI time.Duration
	wg          sync.WaitGroup
}

type layerSeen struct {
	packets       int
	width, height int
	midOK, ridOK  bool
}

type audioSeen struct {
	packets, withLevel, voiced int
	midOK                      bool
}

func newLoopServer(t *testing.T) *loopServer {
	t.Helper()
	api, err := newAPI(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := &loopServer{t: t, layers: make(map[string]*layerSeen)}
	if s.pub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	if s.sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	s.audioOut, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "TR_a", "PA_self")
	s.videoOut, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "TR_v", "PA_self")
	s.pub.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.readPublished(tr, r)
		}()
	})
	t.Cleanup(func() {
		_ = s.pub.Close()
		_ = s.sub.Close()
		s.wg.Wait()
	})
	return s
}

func extID(r *webrtc.RTPReceiver, uri string) uint8 {
	for _, e := range r.GetParameters().HeaderExtensions {
		if e.URI == uri {
			return uint8(e.ID)
		}
	}
	return 0
}

// readPublished checks one incoming stream and forwards audio and the
// lowest video layer, video from its first keyframe on. Half a second in,
// it sends a PLI and times the keyframe that answers it.
func (s *loopServer) readPublished(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	midID, ridID, levelID := extID(r, sdp.SDESMidURI), extID(r, sdp.SDESRTPStreamIDURI), extID(r, AudioLevelURI)
	forward := tr.Kind() == webrtc.RTPCodecTypeAudio || tr.RID() == "" || tr.RID() == "q"
	gateOpen := tr.Kind() == webrtc.RTPCodecTypeAudio
	start := time.Now()
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		s.mu.Lock()
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			s.audio.packets++
			s.audio.midOK = len(p.GetExtension(midID)) > 0
			if b := p.GetExtension(levelID); len(b) == 1 {
				s.audio.withLevel++
				if b[0]&0x80 != 0 {
					s.audio.voiced++
				}
			}
		} else {
			s.videoPacket(tr, p, midID, ridID, start)
		}
		if !gateOpen {
			v, _ := parseVP8(p.Payload)
			gateOpen = v.Keyframe
		}
		s.mu.Unlock()
		if forward && gateOpen {
			out := s.audioOut
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				out = s.videoOut
			}
			_ = out.WriteRTP(p)
		}
	}
}

// videoPacket records one video packet; called with s.mu held.
func (s *loopServer) videoPacket(tr *webrtc.TrackRemote, p *rtp.Packet, midID, ridID uint8, start time.Time) {
	l := s.layers[tr.RID()]
	if l == nil {
		l = &layerSeen{}
		s.layers[tr.RID()] = l
	}
	l.packets++
	l.midOK = len(p.GetExtension(midID)) > 0
	l.ridOK = tr.RID() == "" || string(p.GetExtension(ridID)) == tr.RID()
	v, _ := parseVP8(p.Payload)
	if v.Keyframe {
		l.width, l.height = v.Width, v.Height
		if !s.pliAt.IsZero() && s.keyAfterPLI == 0 && tr.RID() != "h" && tr.RID() != "f" {
			s.keyAfterPLI = time.Since(s.pliAt)
		}
	}
	if s.pliAt.IsZero() && time.Since(start) > 500*time.Millisecond && tr.RID() != "h" && tr.RID() != "f" {
		s.pliAt = time.Now()
		_ = s.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
	}
}

// handle is the signaling side, run on the fake server's reader.
func (s *loopServer) handle(m *signaling.Message, send func(any)) {
	switch m.Type {
	case signaling.TypePublish:
		sid := "TR_a"
		if m.Track.Kind == "video" {
			sid = "TR_v"
		}
		send(&signaling.Message{Type: signaling.TypePublished, ID: m.ID, Track: &signaling.TrackInfo{SID: sid, Kind: m.Track.Kind}})
	case signaling.TypeOffer:
		s.answerPublish(m, send)
		s.offerSubscribe(send)
	case signaling.TypeAnswer:
		if err := s.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			s.t.Error(err)
		}
	case signaling.TypeCandidate:
		pc := s.sub
		if m.Target == signaling.TargetPublish {
			pc = s.pub
		}
		if m.Candidate != nil && m.Candidate.Candidate != "" {
			_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex})
		}
	}
}

func trickle(pc *webrtc.PeerConnection, target string, send func(any)) {
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		send(&signaling.Message{Type: signaling.TypeCandidate, Target: target, Candidate: &signaling.ICECandidate{
			Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex,
		}})
	})
}

func (s *loopServer) answerPublish(m *signaling.Message, send func(any)) {
	trickle(s.pub, signaling.TargetPublish, send)
	if err := s.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
		s.t.Error(err)
		return
	}
	ans, err := s.pub.CreateAnswer(nil)
	if err == nil {
		err = s.pub.SetLocalDescription(ans)
	}
	if err != nil {
		s.t.Error(err)
		return
	}
	send(&signaling.Message{Type: signaling.TypeAnswer, ID: m.ID, Target: signaling.TargetPublish, SDP: ans.SDP})
}

func (s *loopServer) offerSubscribe(send func(any)) {
	trickle(s.sub, signaling.TargetSubscribe, send)
	mids := map[string]string{}
	for _, tr := range []*webrtc.TrackLocalStaticRTP{s.audioOut, s.videoOut} {
		snd, err := s.sub.AddTrack(tr)
		if err != nil {
			s.t.Error(err)
			return
		}
		s.wg.Add(1)
		go func() { // drain RTCP so the interceptors work
			defer s.wg.Done()
			for {
				if _, _, err := snd.ReadRTCP(); err != nil {
					return
				}
			}
		}()
	}
	offer, err := s.sub.CreateOffer(nil)
	if err == nil {
		err = s.sub.SetLocalDescription(offer)
	}
	if err != nil {
		s.t.Error(err)
		return
	}
	for _, tr := range s.sub.GetTransceivers() {
		mids[tr.Mid()] = tr.Sender().Track().ID()
	}
	send(&signaling.Message{Type: signaling.TypeOffer, Target: signaling.TargetSubscribe, SDP: offer.SDP, Mids: mids})
}

// TestLoopback publishes through real pion connections on loopback and
// receives the media back: what the server would see (extensions, layers,
// keyframe on PLI) and what the bot measures (tracks, size, freezes).
func TestLoopback(t *testing.T) {
	for _, simulcast := range []bool{false, true} {
		name := map[bool]string{false: "single", true: "simulcast"}[simulcast]
		t.Run(name, func(t *testing.T) {
			ls := newLoopServer(t)
			var sendMu sync.Mutex
			srv := newFakeServer(t, func(m *signaling.Message, _ []byte, send func(any)) {
				locked := func(v any) { sendMu.Lock(); defer sendMu.Unlock(); send(v) }
				ls.handle(m, locked)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			b, err := New(Config{URL: srv.url, Room: "r", Identity: "me", Publish: true, Subscribe: true, Simulcast: simulcast})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if err := b.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if err := b.WaitTracks(ctx, 2); err != nil {
				t.Fatal(err)
			}
			// Run 1.5 s of media, timed by the media itself (45 frames).
			st, err := b.WaitStats(ctx, func(s Stats) bool {
				for _, tr := range s.Tracks {
					if tr.Kind == "video" && tr.Frames >= 45 {
						return true
					}
				}
				return false
			})
			if err != nil {
				t.Fatal(err)
			}
			ls.check(t, simulcast, st)
		})
	}
}

func (s *loopServer) check(t *testing.T, simulcast bool, st Stats) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string][2]int{"": {640, 360}}
	if simulcast {
		want = map[string][2]int{"q": {320, 180}, "h": {640, 360}, "f": {1280, 720}}
	}
	for rid, size := range want {
		l := s.layers[rid]
		if l == nil || l.packets == 0 {
			t.Errorf("layer %q: nothing received", rid)
			continue
		}
		if l.width != size[0] || l.height != size[1] || !l.midOK || !l.ridOK {
			t.Errorf("layer %q: %+v, want %dx%d with mid and rid", rid, *l, size[0], size[1])
		}
	}
	if s.audio.packets == 0 || s.audio.withLevel != s.audio.packets || s.audio.voiced == 0 || !s.audio.midOK {
		t.Errorf("audio %+v: every packet needs a level, some voiced", s.audio)
	}
	t.Logf("keyframe %v after PLI; audio %+v", s.keyAfterPLI, s.audio)
	// One frame is 33 ms; the bound leaves room for a loaded CI machine
	// while staying far below the clip's natural 2 s keyframe interval.
	if s.keyAfterPLI == 0 || s.keyAfterPLI > 300*time.Millisecond {
		t.Errorf("keyframe %v after PLI, want within ~1 frame", s.keyAfterPLI)
	}
	lowest := want[map[bool]string{false: "", true: "q"}[simulcast]]
	for _, tr := range st.Tracks {
		if tr.Lost != 0 || tr.Freezes != 0 || !tr.FirstFrameKeyframe {
			t.Errorf("received %s: %+v", tr.Kind, tr)
		}
		if tr.Kind == "video" && (tr.Width != lowest[0] || tr.TrackSID != "TR_v" || tr.ParticipantSID != "PA_self") {
			t.Errorf("video %s of %s at %dx%d", tr.TrackSID, tr.ParticipantSID, tr.Width, tr.Height)
		}
		if tr.Kind == "audio" && tr.TrackSID != "TR_a" {
			t.Errorf("audio mapped to %s", tr.TrackSID)
		}
	}
	for _, p := range st.Published {
		if p.Kind == "video" && p.KeyframeJumps == 0 {
			t.Errorf("published video: no keyframe jump recorded: %+v", p)
		}
	}
}
