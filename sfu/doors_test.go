package sfu

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

const testSession = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"

func TestAcceptsMedia(t *testing.T) {
	sec := func(kind string, port int, attrs ...string) string {
		s := "m=" + kind + " " + map[bool]string{true: "9", false: "0"}[port != 0] + " UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
		for _, a := range attrs {
			s += "a=" + a + "\r\n"
		}
		return s
	}
	recv := webrtc.RTPTransceiverDirectionRecvonly
	tests := []struct {
		name   string
		answer string
		want   bool
	}{
		{"recvonly video", testSession + sec("video", 9, "recvonly"), true},
		{"sendrecv audio", testSession + sec("audio", 9, "sendrecv"), true},
		{"default direction", testSession + sec("audio", 9), true},
		{"inactive", testSession + sec("video", 9, "inactive"), false},
		{"rejected", testSession + sec("video", 0, "recvonly"), false},
		{"wrong direction", testSession + sec("video", 9, "sendonly"), false},
		{"one of two", testSession + sec("video", 0, "recvonly") + sec("audio", 9, "recvonly"), true},
		{"not sdp", "nope", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := acceptsMedia(tt.answer, recv); got != tt.want {
				t.Fatalf("acceptsMedia = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestICEParamsAndReplace(t *testing.T) {
	s := testSession + "a=ice-ufrag:sess\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-pwd:pw\r\n" +
		"a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=candidate:2 1 udp 1 127.0.0.1 5001 typ host\r\n"
	got := iceParams(s)
	if got.Ufrag != "sess" || got.Pwd != "pw" || got.Mid != "0" ||
		!slices.Equal(got.Candidates, []string{"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}) {
		t.Fatalf("iceParams = %+v", got)
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		t.Fatal(err)
	}
	d.Attributes = replaceICE(d.Attributes, "new", "newpw")
	for _, m := range d.MediaDescriptions {
		m.Attributes = replaceICE(m.Attributes, "new", "newpw")
	}
	out, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if p := iceParams(string(out)); p.Ufrag != "new" || p.Pwd != "newpw" || len(p.Candidates) != 0 ||
		strings.Contains(string(out), "end-of-candidates") {
		t.Fatalf("after replaceICE: %+v\n%s", p, out)
	}
	if p := iceParams("garbage"); p.Ufrag != "" {
		t.Fatalf("iceParams(garbage) = %+v", p)
	}
}

func TestRoomPolicy(t *testing.T) {
	r := &Room{}
	if r.Policy().RelayOnly {
		t.Fatal("zero room is relay-only")
	}
	r.SetPolicy(Policy{RelayOnly: true})
	if !r.Policy().RelayOnly {
		t.Fatal("policy not stored")
	}
}

// A refused WHIP offer leaves no participant behind, and a room it
// created is scheduled to close like any empty room.
func TestJoinWithOfferRefused(t *testing.T) {
	s, err := New(DefaultRTCConfig(), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// An offer that only wants to receive: nothing for a publisher to take.
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	recvOnly, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		offer string
		want  error
	}{
		{"garbage", ErrBadSDP},
		{recvOnly.SDP, ErrNoMedia},
		{h263Offer(t), ErrNoMedia}, // pion rejects the section (port 0)
	}
	for _, tt := range tests {
		_, _, err := s.JoinWithOffer(ctx, "refused", JoinRequest{Identity: "enc"}, nil, tt.offer)
		if !errors.Is(err, tt.want) {
			t.Errorf("offer %.20q: err = %v, want %v", tt.offer, err, tt.want)
		}
	}
	r := s.Room("refused")
	if r == nil {
		t.Fatal("room not found")
	}
	r.mu.Lock()
	n, timer := len(r.order), r.closeTimer != nil
	r.mu.Unlock()
	if n != 0 || !timer {
		t.Errorf("room holds %d participants, close timer %v", n, timer)
	}
	if _, _, err := s.View(ctx, ViewRequest{Room: "nowhere"}); !errors.Is(err, ErrRoomNotFound) {
		t.Errorf("View of unknown room: %v", err)
	}
	if _, _, err := s.View(ctx, ViewRequest{Room: "refused"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("View of a room without publishers: %v", err)
	}
}

// h263Offer sends video in a codec the SFU does not carry.
func h263Offer(t *testing.T) string {
	t.Helper()
	h263 := webrtc.RTPCodecCapability{MimeType: "video/H263", ClockRate: 90000}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: h263, PayloadType: 34}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	tr, err := webrtc.NewTrackLocalStaticSample(h263, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}
