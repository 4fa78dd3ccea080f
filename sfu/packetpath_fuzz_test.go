package sfu

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A VP8 keyframe payload (descriptor with a 15-bit picture id, then a
// 640x360 key frame header) that primes the forwarder before the fuzzed
// packet, so the fuzzed packet meets a forwarder that is forwarding.
var (
	primerVP8  = []byte{0x90, 0x80, 0x80, 0x01, 0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}
	primerH264 = []byte{0x65, 0x88, 0x84, 0x00}
)

// FuzzPublisherRTP feeds a publisher's RTP packet, bytes the peer fully
// controls, through the receiver's per-packet classification and one
// subscriber's DownTrack, for an audio, a VP8 and an H264 track. Nothing
// may panic, and a packet that is forwarded must come out as a valid RTP
// packet with the subscriber's SSRC and payload type, no padding, and the
// publisher's payload unchanged (for VP8: unchanged after the descriptor,
// whose rewrite must parse again), carrying the audio level when there
// was one.
func FuzzPublisherRTP(f *testing.F) {
	audio := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 7, Timestamp: 960, SSRC: 0x1111}, Payload: []byte{0xf8, 0xff, 0xfe}}
	_ = audio.Header.SetExtension(fuzzPubLevelID, []byte{0x9e})
	video := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 100, Timestamp: 3000, SSRC: 0x2222, Marker: true}, Payload: primerVP8}
	h264 := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SequenceNumber: 9, Timestamp: 3000, SSRC: 0x3333}, Payload: []byte{0x7c, 0x85, 0x88, 0x80}}
	for i, p := range []rtp.Packet{audio, video, h264} {
		b, err := p.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i))
	}
	f.Fuzz(func(t *testing.T, raw []byte, kindSel uint8) {
		kind, mime, primer := KindAudio, webrtc.MimeTypeOpus, []byte(nil)
		switch kindSel % 3 {
		case 1:
			kind, mime, primer = KindVideo, webrtc.MimeTypeVP8, primerVP8
		case 2:
			kind, mime, primer = KindVideo, webrtc.MimeTypeH264, primerH264
		}
		fx := newPathFixture(t, kind, mime)
		var hdr rtp.Header
		if _, err := hdr.Unmarshal(raw); err == nil && primer != nil {
			prime := rtp.Packet{Header: rtp.Header{
				Version: 2, PayloadType: hdr.PayloadType, SSRC: hdr.SSRC, Marker: true,
				SequenceNumber: hdr.SequenceNumber - 1, Timestamp: hdr.Timestamp - 3000,
			}, Payload: primer}
			b, err := prime.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if fx.feed(b, 1e9) == nil {
				t.Fatal("primer dropped")
			}
		}
		sent := len(fx.out.pkts)
		p := fx.feed(raw, 1e9+33e6)
		if p == nil || len(fx.out.pkts) == sent {
			return // malformed (dropped) or not forwarded
		}
		checkForwarded(t, p, fx.out.pkts[len(fx.out.pkts)-1])
	})
}

// checkForwarded checks one packet a DownTrack wrote for source packet p.
func checkForwarded(t *testing.T, p *Packet, wire []byte) {
	t.Helper()
	var out rtp.Packet
	if err := out.Unmarshal(wire); err != nil {
		t.Fatalf("forwarded packet does not parse: %v (% x)", err, wire)
	}
	if out.Version != 2 || out.SSRC != fuzzSubSSRC || out.PayloadType != fuzzSubPT || out.Padding {
		t.Fatalf("forwarded header %+v", out.Header)
	}
	if p.HasVP8 {
		var src, got VP8Descriptor
		if err := ParseVP8(p.Payload, &src); err != nil {
			t.Fatalf("source descriptor: %v", err)
		}
		if err := ParseVP8(out.Payload, &got); err != nil {
			t.Fatalf("rewritten VP8 descriptor does not parse: %v", err)
		}
		if !bytes.Equal(out.Payload[got.HeaderSize:], p.Payload[src.HeaderSize:]) || got.IsKeyframe != src.IsKeyframe {
			t.Fatal("VP8 payload changed by the rewrite")
		}
	} else if !bytes.Equal(out.Payload, p.Payload) {
		t.Fatalf("payload changed: % x -> % x", p.Payload, out.Payload)
	}
	level := out.GetExtension(fuzzSubLevelID)
	switch {
	case p.HasAudioLevel && !bytes.Equal(level, []byte{p.AudioLevel}):
		t.Fatalf("audio level %x forwarded as %x", p.AudioLevel, level)
	case !p.HasAudioLevel && len(out.GetExtensionIDs()) != 0:
		t.Fatalf("extensions %v forwarded without an audio level", out.GetExtensionIDs())
	}
}
