package sfu

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Extension ids of the fuzz fixture: the publisher's audio level id and the
// subscriber's (they differ, as they do between real clients).
const (
	fuzzPubLevelID = 1
	fuzzSubLevelID = 5
	fuzzSubSSRC    = 0x5ab5c11b
	fuzzSubPT      = 109
)

// captureWriter stands in for pion's TrackLocalWriter: it serializes what a
// DownTrack writes, as pion would before SRTP.
type captureWriter struct{ pkts [][]byte }

func (w *captureWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	b, err := (&rtp.Packet{Header: *h, Payload: payload}).Marshal()
	if err != nil {
		return 0, fmt.Errorf("marshal: %w", err)
	}
	w.pkts = append(w.pkts, b)
	return len(b), nil
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.pkts = append(w.pkts, append([]byte(nil), b...))
	return len(b), nil
}

// pathFixture is one published track with one receiver and one bound
// subscriber, wired like the real ones but without peer connections: what
// the receiver classifies and the DownTrack writes can be checked directly.
type pathFixture struct {
	sfu  *SFU
	recv *receiver
	down *DownTrack
	out  *captureWriter
}

func newPathFixture(tb testing.TB, kind Kind, mime string) *pathFixture {
	tb.Helper()
	logger := slog.New(slog.DiscardHandler)
	s := &SFU{opts: options{logger: logger, stats: &Counters{}}, logger: logger, ctx: context.Background()}
	room := &Room{sfu: s, name: "fuzz", logger: logger, participants: map[string]*Participant{}}
	pub := &Participant{room: room, sid: "PA_pub", logger: logger}
	clock := uint32(90000)
	if kind == KindAudio {
		clock = 48000
	}
	t := &PublishedTrack{
		owner: pub, sid: "TR_fuzz", kind: kind, logger: logger,
		codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: clock}},
		vp8:   mime == webrtc.MimeTypeVP8, h264: mime == webrtc.MimeTypeH264,
		done: make(chan struct{}), wake: make(chan struct{}, 1),
	}
	t.downs.Store(&[]*DownTrack{})
	r := &receiver{track: t, ssrc: 0x1111}
	if kind == KindAudio {
		r.levelID = fuzzPubLevelID
	}
	t.receivers[0] = r
	t.infos[0].Live = true
	sub := &Participant{room: room, sid: "PA_sub", logger: logger}
	sub.subReady.Store(true)
	d := newDownTrack(t, sub)
	out := &captureWriter{}
	d.writer, d.ssrc, d.pt, d.bound = out, fuzzSubSSRC, fuzzSubPT, true
	if kind == KindAudio {
		d.levelID = fuzzSubLevelID
	}
	d.fwd.SetTarget(0, -1)
	return &pathFixture{sfu: s, recv: r, down: d, out: out}
}

// feed runs one raw packet through the receiver's path: parse (a packet
// pion cannot parse is dropped, as in receiver.run), classify, forward.
// It returns the parsed packet, or nil when it was dropped as malformed.
func (f *pathFixture) feed(raw []byte, arrival int64) *Packet {
	var pkt rtp.Packet
	if !parseRTP(raw, &pkt) {
		return nil
	}
	p := &Packet{Header: &pkt.Header, Payload: pkt.Payload, ArrivalNanos: arrival}
	f.recv.classify(p)
	f.down.WriteRTP(p)
	return p
}
