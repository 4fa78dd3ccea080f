package bwe

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/interceptor"
)

const benchSpeakers = 100

// ssrcSink is what the server will put between the interceptor and a room's
// detector: SSRC -> participant id, then Observe.
type ssrcSink struct {
	d   *SpeakerDetector
	ids map[uint32]string
}

func (s *ssrcSink) ObserveLevel(ssrc uint32, level uint8, voice bool, now time.Time) {
	if id, ok := s.ids[ssrc]; ok {
		s.d.Observe(id, level, voice, now)
	}
}

// loopReader returns the packets round-robin forever, like 100 publishers'
// streams interleaved at 5,000 packets/s.
type loopReader struct {
	packets [][]byte
	attrs   []interceptor.Attributes // per packet, when an earlier interceptor cached headers
	next    int
}

func (l *loopReader) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	n := copy(b, l.packets[l.next])
	if l.attrs != nil {
		a = l.attrs[l.next]
	}
	l.next = (l.next + 1) % len(l.packets)
	return n, a, nil
}

// BenchmarkObserve measures the per-packet cost of the audio level path with
// 100 speakers in one room: interceptor Read (finding the extension in the
// raw header, ParseAudioLevel), the SSRC lookup and SpeakerDetector.Observe.
// The mock source's copy is included. header-cached=true is the chain where
// an earlier interceptor (report, NACK) cached the parsed header in the
// Attributes; false is the nil-Attributes path that walks the raw bytes.
func BenchmarkObserve(b *testing.B) {
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("header-cached=%v", cached), func(b *testing.B) {
			d := newDetector(b)
			sink := &ssrcSink{d: d, ids: map[uint32]string{}}
			src := &loopReader{}
			for k := range benchSpeakers {
				ssrc, id := uint32(1000+k), fmt.Sprintf("participant-%03d", k)
				d.AddSpeaker(id)
				sink.ids[ssrc] = id
				level := uint8(30 + k%20)
				if k%3 == 0 {
					level = silentLevel
				}
				src.packets = append(src.packets, audioPacket(b, ssrc, uint16(k), level, level < 90, testExtID, false))
			}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			f, err := NewAudioLevelInterceptorFactory(WithLevelSink(sink), WithLevelClock(clock))
			if err != nil {
				b.Fatal(err)
			}
			i, err := f.NewInterceptor("")
			if err != nil {
				b.Fatal(err)
			}
			r := i.BindRemoteStream(audioInfo(1, "audio/opus", interceptor.RTPHeaderExtension{URI: AudioLevelURI, ID: testExtID}), src)
			buf := make([]byte, 1500)
			if cached {
				for _, p := range src.packets {
					a := interceptor.Attributes{}
					if _, err := a.GetRTPHeader(p); err != nil {
						b.Fatal(err)
					}
					src.attrs = append(src.attrs, a)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, _, err := r.Read(buf, nil); err != nil {
					b.Fatal(err)
				}
				now = now.Add(200 * time.Microsecond) // 5,000 packets/s
			}
		})
	}
}

// BenchmarkTick measures one Tick of a 100-speaker room every 100 ms (five
// frame decisions), with a third of the room talking.
func BenchmarkTick(b *testing.B) {
	d := newDetector(b)
	ids := make([]string, benchSpeakers)
	for k := range ids {
		ids[k] = fmt.Sprintf("participant-%03d", k)
		d.AddSpeaker(ids[k])
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for f := range 100 {
		for k, id := range ids {
			level := uint8(silentLevel)
			if k%3 == 0 && f%8 != 0 {
				level = uint8(30 + k%15)
			}
			d.Observe(id, level, true, now)
		}
		now = now.Add(packetInterval)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		now = now.Add(100 * time.Millisecond)
		d.Tick(now)
	}
}

func TestObserveAllocs(t *testing.T) {
	d := newDetector(t)
	d.AddSpeaker("A")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if n := testing.AllocsPerRun(1000, func() {
		d.Observe("A", 35, true, now)
		now = now.Add(packetInterval)
	}); n != 0 {
		t.Fatalf("Observe allocates %v per call", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		now = now.Add(100 * time.Millisecond)
		d.Tick(now)
	}); n != 0 {
		t.Fatalf("Tick allocates %v per call", n)
	}
}
