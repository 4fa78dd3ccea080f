package bwe

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

const testExtID = 3

// audioPacket marshals an RTP packet whose header carries the audio level
// extension (id, one- or two-byte form) and, for realism, a second element.
func audioPacket(t testing.TB, ssrc uint32, seq uint16, level uint8, voice bool, id uint8, twoByte bool) []byte {
	t.Helper()
	h := rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: ssrc}
	if twoByte {
		h.Extension, h.ExtensionProfile = true, rtp.ExtensionProfileTwoByte
	}
	ext, err := rtp.AudioLevelExtension{Level: level, Voice: voice}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.SetExtension(1, []byte{0xaa, 0xbb}); err != nil { // e.g. transport-cc
		t.Fatal(err)
	}
	if err := h.SetExtension(id, ext); err != nil {
		t.Fatal(err)
	}
	b, err := (&rtp.Packet{Header: h, Payload: []byte{0xf8, 0xff, 0xfe}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mockReader plays packets, then io.EOF, like the SRTP stream under the
// interceptor chain; attrs is what it returns with each packet.
type mockReader struct {
	packets [][]byte
	attrs   func(b []byte) interceptor.Attributes
}

func (m *mockReader) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	if len(m.packets) == 0 {
		return 0, nil, io.EOF
	}
	n := copy(b, m.packets[0])
	m.packets = m.packets[1:]
	if m.attrs != nil {
		a = m.attrs(b[:n])
	}
	return n, a, nil
}

type observed struct {
	ssrc  uint32
	level uint8
	voice bool
	at    time.Time
}

func audioInfo(ssrc uint32, mime string, exts ...interceptor.RTPHeaderExtension) *interceptor.StreamInfo {
	return &interceptor.StreamInfo{SSRC: ssrc, MimeType: mime, ClockRate: 48000, RTPHeaderExtensions: exts}
}

func TestAudioLevelInterceptor(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	levelExt := interceptor.RTPHeaderExtension{URI: AudioLevelURI, ID: testExtID}
	other := interceptor.RTPHeaderExtension{URI: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", ID: 1}
	cacheHeader := func(b []byte) interceptor.Attributes {
		a := interceptor.Attributes{}
		_, _ = a.GetRTPHeader(b) // the truncated packet fails here and in the reader
		return a
	}
	tests := []struct {
		name    string
		info    *interceptor.StreamInfo
		twoByte bool
		attrs   func([]byte) interceptor.Attributes
		want    bool
	}{
		{"opus, one-byte header", audioInfo(1, "audio/opus", other, levelExt), false, nil, true},
		{"opus, two-byte header", audioInfo(1, "audio/OPUS", levelExt), true, nil, true},
		{"header cached by an earlier interceptor", audioInfo(1, "audio/opus", levelExt), false, cacheHeader, true},
		{"empty attributes", audioInfo(1, "audio/opus", levelExt), false,
			func([]byte) interceptor.Attributes { return interceptor.Attributes{} }, true},
		{"extension not negotiated", audioInfo(1, "audio/opus", other), false, nil, false},
		{"video stream", audioInfo(1, "video/VP8", levelExt), false, nil, false},
		{"audio retransmissions", audioInfo(1, "audio/rtx", levelExt), false, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []observed
			clock := base
			f, err := NewAudioLevelInterceptorFactory(
				WithLevelSink(LevelSinkFunc(func(ssrc uint32, level uint8, voice bool, now time.Time) {
					got = append(got, observed{ssrc, level, voice, now})
				})),
				WithLevelClock(func() time.Time { clock = clock.Add(packetInterval); return clock }),
			)
			if err != nil {
				t.Fatal(err)
			}
			i, err := f.NewInterceptor("pc1")
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := i.Close(); err != nil {
					t.Error(err)
				}
			}()
			levels := []struct {
				level uint8
				voice bool
			}{{127, false}, {42, true}, {0, true}, {90, false}}
			src := &mockReader{attrs: tt.attrs}
			for k, l := range levels {
				src.packets = append(src.packets, audioPacket(t, 0xcafe, uint16(k), l.level, l.voice, testExtID, tt.twoByte))
			}
			src.packets = append(src.packets, []byte{0x80, 0x6f}) // truncated: passed through, not reported
			r := i.BindRemoteStream(tt.info, src)
			buf := make([]byte, 1500)
			for k := 0; ; k++ {
				n, _, err := r.Read(buf, nil)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if k < len(levels) && n != len(audioPacket(t, 0xcafe, uint16(k), 0, false, testExtID, tt.twoByte)) {
					t.Fatalf("packet %d: read %d bytes, packet must pass through unchanged", k, n)
				}
			}
			if !tt.want {
				if len(got) != 0 {
					t.Fatalf("sink saw %v, want nothing", got)
				}
				return
			}
			if len(got) != len(levels) {
				t.Fatalf("sink saw %d levels, want %d: %v", len(got), len(levels), got)
			}
			for k, l := range levels {
				g := got[k]
				if g.ssrc != 0xcafe || g.level != l.level || g.voice != l.voice || !g.at.Equal(base.Add(time.Duration(k+1)*packetInterval)) {
					t.Errorf("level %d = %+v, want level %d voice %v", k, g, l.level, l.voice)
				}
			}
		})
	}
}

func TestAudioLevelOptions(t *testing.T) {
	sink := LevelSinkFunc(func(uint32, uint8, bool, time.Time) {})
	tests := []struct {
		name string
		opts []AudioLevelOption
		err  error
	}{
		{"sink", []AudioLevelOption{WithLevelSink(sink)}, nil},
		{"no sink", nil, ErrNoLevelSink},
		{"nil sink", []AudioLevelOption{WithLevelSink(nil)}, ErrInvalidOption},
		{"nil clock", []AudioLevelOption{WithLevelSink(sink), WithLevelClock(nil)}, ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAudioLevelInterceptorFactory(tt.opts...)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestParseAudioLevel(t *testing.T) {
	tests := []struct {
		ext   []byte
		level uint8
		voice bool
		err   error
	}{
		{[]byte{0x00}, 0, false, nil},
		{[]byte{0x7f}, 127, false, nil},
		{[]byte{0x80 | 30}, 30, true, nil},
		{[]byte{0xff}, 127, true, nil},
		{nil, 0, false, ErrAudioLevelSize},
		{[]byte{0x1e, 0x00}, 0, false, ErrAudioLevelSize},
	}
	for _, tt := range tests {
		level, voice, err := ParseAudioLevel(tt.ext)
		if level != tt.level || voice != tt.voice || !errors.Is(err, tt.err) {
			t.Errorf("ParseAudioLevel(%x) = %d, %v, %v; want %d, %v, %v", tt.ext, level, voice, err, tt.level, tt.voice, tt.err)
		}
	}
}

// FuzzParseAudioLevel checks ParseAudioLevel's contract on any input: it
// accepts exactly the one-byte payloads, the level is 7 bits, and it agrees
// with pion's RFC 6464 decoder and round-trips through its encoder.
func FuzzParseAudioLevel(f *testing.F) {
	for _, seed := range [][]byte{{}, {0x00}, {0x7f}, {0x80}, {0xff}, {0x9e}, {0x1e, 0x00}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ext []byte) {
		level, voice, err := ParseAudioLevel(ext)
		if (err == nil) != (len(ext) == 1) {
			t.Fatalf("len %d: err %v", len(ext), err)
		}
		if err != nil {
			if level != 0 || voice {
				t.Fatalf("error with non-zero result %d %v", level, voice)
			}
			return
		}
		if level > 127 {
			t.Fatalf("level %d over 127", level)
		}
		var ref rtp.AudioLevelExtension
		if err := ref.Unmarshal(ext); err != nil || ref.Level != level || ref.Voice != voice {
			t.Fatalf("pion decodes %x as %+v (%v), we as %d %v", ext, ref, err, level, voice)
		}
		back, err := rtp.AudioLevelExtension{Level: level, Voice: voice}.Marshal()
		if err != nil || len(back) != 1 || back[0] != ext[0] {
			t.Fatalf("round trip %x -> %x (%v)", ext, back, err)
		}
	})
}

// TestAudioLevelReusesCachedHeader shows the reader takes the header an
// earlier interceptor cached rather than parsing again: the cached header
// says -99 dBov, the bytes -42, and the sink must see 99.
func TestAudioLevelReusesCachedHeader(t *testing.T) {
	var got []uint8
	f, err := NewAudioLevelInterceptorFactory(WithLevelSink(LevelSinkFunc(
		func(_ uint32, level uint8, _ bool, _ time.Time) { got = append(got, level) })))
	if err != nil {
		t.Fatal(err)
	}
	i, err := f.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	cached := interceptor.Attributes{}
	if _, err := cached.GetRTPHeader(audioPacket(t, 1, 1, 99, false, testExtID, false)); err != nil {
		t.Fatal(err)
	}
	src := &mockReader{
		packets: [][]byte{audioPacket(t, 1, 1, 42, false, testExtID, false)},
		attrs:   func([]byte) interceptor.Attributes { return cached },
	}
	r := i.BindRemoteStream(audioInfo(1, "audio/opus", interceptor.RTPHeaderExtension{URI: AudioLevelURI, ID: testExtID}), src)
	if _, _, err := r.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != 99 {
		t.Fatalf("sink saw %v, want the cached header's 99", got)
	}
}
