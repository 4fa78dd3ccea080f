package whip

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// stage is a publisher with live media in a room, for WHEP requests to
// play, with a watcher beside it: a plain pion client (loopback only) that joins through
// sfu.JoinWithOffer and sends an Opus and a VP8 track, a packet each
// every 20 ms, until the test ends.
type stage struct {
	p      *sfu.Participant
	tracks []string // the SIDs the room knows the tracks by
}

// Notify drops the stage participant's events: it only sends.
func (*stage) Notify(sfu.Event) {}

// watcher is a participant that only learns of published tracks, so that
// a test can await the stage's media instead of polling for it.
type watcher chan sfu.TrackPublished

// Notify passes on TrackPublished events; it never blocks.
func (w watcher) Notify(ev sfu.Event) {
	if e, ok := ev.(sfu.TrackPublished); ok {
		select {
		case w <- e:
		default:
		}
	}
}

func newStage(tb testing.TB, s *sfu.SFU, room string) *stage {
	tb.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		tb.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	tb.Cleanup(func() {
		cancel()
		<-done
		_ = pc.Close()
	})
	var locals []*webrtc.TrackLocalStaticRTP
	for _, c := range []webrtc.RTPCodecCapability{
		{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	} {
		tr, err := webrtc.NewTrackLocalStaticRTP(c, c.MimeType, "stage")
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			tb.Fatal(err)
		}
		locals = append(locals, tr)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		tb.Fatal(err)
	}
	<-gathered
	published := make(watcher, 8)
	if _, _, err := s.Join(room, sfu.JoinRequest{Identity: "watcher"}, published); err != nil {
		tb.Fatal(err)
	}
	st := &stage{}
	jctx, jcancel := context.WithTimeout(ctx, 5*time.Second)
	defer jcancel()
	p, answer, err := s.JoinWithOffer(jctx, room, sfu.JoinRequest{Identity: "stage", Grants: sfu.Grants{CanPublish: true}}, st, pc.LocalDescription().SDP)
	if err != nil {
		tb.Fatal(err)
	}
	st.p = p
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		tb.Fatal(err)
	}
	go func() {
		defer close(done)
		// A VP8 keyframe (payload descriptor S=1, then a key frame header)
		// and an Opus frame; the content does not matter to the SFU.
		payloads := [][]byte{{0xfc, 0xff, 0xfe}, {0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			for i, tr := range locals {
				pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960, Marker: true}, Payload: payloads[i]}
				_ = tr.WriteRTP(pkt)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	timeout := time.After(10 * time.Second)
	for len(st.tracks) < 2 {
		select {
		case e := <-published:
			if e.ParticipantSID == p.SID() {
				st.tracks = append(st.tracks, e.Track.SID)
			}
		case <-timeout:
			tb.Fatalf("the stage published %d of 2 tracks in 10 s", len(st.tracks))
		}
	}
	return st
}
