package bot

import (
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// fakeContext is a webrtc.TrackLocalContext with a capturing writer.
type fakeContext struct {
	codecs []webrtc.RTPCodecParameters
	exts   []webrtc.RTPHeaderExtensionParameter
	ssrc   webrtc.SSRC
	w      *captureWriter
}

func (c *fakeContext) CodecParameters() []webrtc.RTPCodecParameters           { return c.codecs }
func (c *fakeContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return c.exts }
func (c *fakeContext) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c *fakeContext) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c *fakeContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c *fakeContext) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c *fakeContext) ID() string                                             { return "ctx" }
func (c *fakeContext) RTCPReader() interceptor.RTCPReader                     { return nil }

type captureWriter struct {
	mu   sync.Mutex
	pkts []rtp.Packet
}

func (w *captureWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Round-trip through the wire format, as the SRTP writer would.
	raw, err := (&rtp.Packet{Header: *h, Payload: payload}).Marshal()
	if err != nil {
		return 0, err
	}
	var p rtp.Packet
	if err := p.Unmarshal(raw); err != nil {
		return 0, err
	}
	w.pkts = append(w.pkts, p)
	return len(raw), nil
}

func (w *captureWriter) Write(b []byte) (int, error) { return len(b), nil }

func bindFake(t *testing.T, tr *rtpTrack, ssrc webrtc.SSRC) *captureWriter {
	t.Helper()
	ctx := &fakeContext{
		codecs: []webrtc.RTPCodecParameters{
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 100},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 109},
		},
		exts: []webrtc.RTPHeaderExtensionParameter{
			{URI: sdp.SDESMidURI, ID: 4}, {URI: sdp.SDESRTPStreamIDURI, ID: 10}, {URI: AudioLevelURI, ID: 1},
		},
		ssrc: ssrc,
		w:    &captureWriter{},
	}
	if _, err := tr.Bind(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx.w
}

func TestRTPTrackExtensions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		codec   string
		rid     string
		level   int
		wantPT  uint8
		wantExt map[uint8][]byte
	}{
		{"audio with level", webrtc.MimeTypeOpus, "", 0x80 | 25, 109, map[uint8][]byte{4: []byte("0"), 1: {0x80 | 25}}},
		{"simulcast video", webrtc.MimeTypeVP8, "h", audioLevelNone, 100, map[uint8][]byte{4: []byte("0"), 10: []byte("h")}},
		{"plain video", webrtc.MimeTypeVP8, "", audioLevelNone, 100, map[uint8][]byte{4: []byte("0")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newRTPTrack(webrtc.RTPCodecCapability{MimeType: tc.codec}, "id", "stream", tc.rid)
			tr.mid = func() string { return "0" }
			w := bindFake(t, tr, 1234)
			h := rtp.Header{SequenceNumber: 7, Timestamp: 99, Marker: true}
			if sent, err := tr.write(&h, []byte{1, 2, 3}, tc.level); !sent || err != nil {
				t.Fatalf("write: sent=%v err=%v", sent, err)
			}
			p := w.pkts[0]
			if p.PayloadType != tc.wantPT || p.SSRC != 1234 || p.SequenceNumber != 7 || !p.Marker {
				t.Errorf("header %+v", p.Header)
			}
			for id, want := range tc.wantExt {
				if got := p.GetExtension(id); string(got) != string(want) {
					t.Errorf("extension %d = %v, want %v", id, got, want)
				}
			}
			if n := len(p.GetExtensionIDs()); n != len(tc.wantExt) {
				t.Errorf("%d extensions, want %d", n, len(tc.wantExt))
			}
		})
	}
}

func TestRTPTrackUnbound(t *testing.T) {
	tr := newRTPTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "id", "s", "")
	if sent, err := tr.write(&rtp.Header{}, []byte{1}, audioLevelNone); sent || err != nil {
		t.Fatalf("unbound write: sent=%v err=%v", sent, err)
	}
	ctx := &fakeContext{codecs: []webrtc.RTPCodecParameters{{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}}}}
	if _, err := tr.Bind(ctx); err == nil {
		t.Fatal("bind without the codec succeeded")
	}
}

// TestVideoSenderAlignsLayers checks that one tick sends the same clip frame
// on every layer with one timestamp, that a keyframe request is served on
// the next tick, and that timestamps and picture ids keep rising across the
// clip's loop.
func TestVideoSenderAlignsLayers(t *testing.T) {
	clips, err := media.Load()
	if err != nil {
		t.Fatal(err)
	}
	rids := media.RIDs()
	v := newVideoSender(clips.Video[:], rids[:], "cam", "s", discardLogger())
	writers := make([]*captureWriter, len(v.layers))
	for i, l := range v.layers {
		writers[i] = bindFake(t, l.track, webrtc.SSRC(100+i))
	}
	t0 := time.Unix(1000, 0)
	v.start = t0
	n := len(clips.Video[0].Frames)
	for i := range n + 10 {
		now := t0.Add(time.Duration(i) * v.interval)
		if i == 20 {
			v.requestKeyframe()
		}
		v.tick(now)
	}
	for li, w := range writers {
		frames := framesOf(t, w.pkts)
		if len(frames) != n+10 {
			t.Fatalf("layer %d: %d frames, want %d", li, len(frames), n+10)
		}
		for i := 1; i < len(frames); i++ {
			if d := frames[i].ts - frames[i-1].ts; d != 3000 {
				t.Fatalf("layer %d frame %d: timestamp step %d", li, i, d)
			}
			if frames[i].pid != (frames[i-1].pid+1)&0x7fff {
				t.Fatalf("layer %d frame %d: picture id %d after %d", li, i, frames[i].pid, frames[i-1].pid)
			}
		}
		if !frames[20].key || frames[20].w != clips.Video[li].Width {
			t.Errorf("layer %d: frame after the request is not a %d-wide keyframe: %+v", li, clips.Video[li].Width, frames[20])
		}
		if !frames[n-40].key { // the jump skipped 40 frames, so the loop comes 40 ticks early
			t.Errorf("layer %d: clip loop not on a keyframe", li)
		}
	}
	if a, b := framesOf(t, writers[0].pkts), framesOf(t, writers[2].pkts); a[5].ts != b[5].ts {
		t.Errorf("layers not aligned: ts %d vs %d", a[5].ts, b[5].ts)
	}
}

type sentFrame struct {
	ts   uint32
	pid  int
	key  bool
	w, h int
}

// framesOf groups captured packets into frames and checks each ends with
// the marker.
func framesOf(t *testing.T, pkts []rtp.Packet) []sentFrame {
	t.Helper()
	var out []sentFrame
	for i, p := range pkts {
		v, err := parseVP8(p.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if v.Start {
			out = append(out, sentFrame{ts: p.Timestamp, pid: v.PictureID, key: v.Keyframe, w: v.Width, h: v.Height})
		}
		last := i == len(pkts)-1 || pkts[i+1].Timestamp != p.Timestamp
		if last != p.Marker {
			t.Fatalf("packet %d: marker %v at frame end %v", i, p.Marker, last)
		}
	}
	return out
}
