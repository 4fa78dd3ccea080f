package sfu

import (
	"fmt"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// discardWriter stands in for pion's SRTP writer so the benchmark measures
// hibiki's own per-packet work (forwarder decision, header and VP8 rewrite)
// apart from encryption and the socket, whose floor is measured separately
// (see docs/benchmarks.md).
type discardWriter struct{ n int }

func (w *discardWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.n += len(payload)
	return len(payload), nil
}

func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

var _ webrtc.TrackLocalWriter = (*discardWriter)(nil)

// benchTrack builds a VP8 published track with n bound downtracks, without
// peer connections.
func benchTrack(n int) (*PublishedTrack, []*DownTrack) {
	s := &SFU{opts: options{stats: &Counters{}}}
	room := &Room{sfu: s}
	owner := &Participant{room: room}
	t := &PublishedTrack{
		owner: owner, kind: KindVideo, vp8: true,
		codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}},
	}
	downs := make([]*DownTrack, n)
	for i := range downs {
		sub := &Participant{room: room}
		sub.subReady.Store(true)
		d := newDownTrack(t, sub)
		d.writer = &discardWriter{}
		d.ssrc = uint32(1000 + i)
		d.pt = 96
		d.bound = true
		d.fwd.SetTarget(0, -1)
		downs[i] = d
	}
	t.downs.Store(&downs)
	return t, downs
}

// vp8Packet returns a 1200-byte VP8 packet with a 15-bit picture id; the
// first of a frame is a keyframe when key is set.
func vp8Packet(seq uint16, ts uint32, pid uint16, key bool) (rtp.Header, []byte) {
	payload := make([]byte, 1200)
	payload[0] = 0x90 // X=1, S=1, PID=0
	payload[1] = 0x80 // I=1
	payload[2] = 0x80 | byte(pid>>8)
	payload[3] = byte(pid)
	if key {
		payload[4] = 0x00 // P=0: keyframe
		copy(payload[7:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01})
	} else {
		payload[4] = 0x01
	}
	return rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 42, Marker: true}, payload
}

func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			t, _ := benchTrack(n)
			var p Packet
			hdr, payload := vp8Packet(1, 3000, 1, true)
			r := &receiver{track: t}
			p.Header, p.Payload = &hdr, payload
			r.classify(&p)
			for _, d := range *t.downs.Load() {
				d.WriteRTP(&p)
			}
			_, delta := vp8Packet(0, 0, 0, false)
			b.ReportAllocs()
			b.SetBytes(int64(len(delta)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				hdr.SequenceNumber++
				hdr.Timestamp += 3000
				delta[3]++
				p.Payload = delta
				r.classify(&p)
				for _, d := range *t.downs.Load() {
					d.WriteRTP(&p)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/forward")
		})
	}
}
