package sfu

import (
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// recorder is a Notifier that keeps the LayersChanged events.
type recorder struct {
	mu     sync.Mutex
	layers [][]bool
}

func (r *recorder) Notify(ev Event) {
	if e, ok := ev.(LayersChanged); ok {
		r.mu.Lock()
		r.layers = append(r.layers, e.Active)
		r.mu.Unlock()
	}
}

func (r *recorder) take() [][]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.layers
	r.layers = nil
	return out
}

// directFixture is a room with a publisher's video track and one
// subscriber's DownTrack, built without peer connections.
func directFixture(t *testing.T, layers []LayerSpec) (*PublishedTrack, *DownTrack, *recorder) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(DefaultRTCConfig(), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.room("direct")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	pub := &Participant{room: r, sid: "PA_pub", logger: logger, notifier: rec, subs: map[string]*DownTrack{}}
	sub := &Participant{room: r, sid: "PA_sub", logger: logger, subs: map[string]*DownTrack{}}
	codec := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}}
	tr := newPublishedTrack(pub, "TR_v", TrackRequest{ClientID: "c", Kind: KindVideo, Layers: layers}, codec)
	d := newDownTrack(tr, sub)
	sub.subs[tr.sid] = d
	tr.addDownTrack(d)
	t.Cleanup(func() {
		sub.closed = true // no renegotiation: sub has no peer connection
		tr.close()
		r.Close("test over")
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return tr, d, rec
}

var allOff = []bool{false, false, false}

// TestDirectPausesForwardingAndLayers: a subscriber that receives a track
// directly gets nothing forwarded, and a publisher none of whose
// subscribers needs the SFU path is asked to turn every encoding off,
// single-encoding video included; turning direct off asks for them again.
func TestDirectPausesForwardingAndLayers(t *testing.T) {
	defer goleak.VerifyNone(t)
	cases := []struct {
		name    string
		layers  []LayerSpec
		initial [][]bool // before the subscriber goes direct
		resumed []bool
	}{
		{"simulcast", []LayerSpec{{RID: "q"}, {RID: "h"}, {RID: "f"}}, [][]bool{{true, true, false}}, []bool{true, true, false}},
		{"single encoding", nil, nil, []bool{true, true, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, d, rec := directFixture(t, c.layers)
			tr.updateActiveLayers()
			if got := rec.take(); !equalLayers(got, c.initial) {
				t.Fatalf("layers before going direct: %v, want %v", got, c.initial)
			}
			d.setDirect(true)
			tr.updateActiveLayers()
			if got := rec.take(); !equalLayers(got, [][]bool{allOff}) {
				t.Fatalf("layers while direct: %v, want all off", got)
			}
			if l := d.desiredLayer(); l != -1 {
				t.Errorf("desired layer while direct = %d, want -1", l)
			}
			key := &Packet{Header: &rtp.Header{SequenceNumber: 1, Timestamp: 1}, Payload: []byte{0x10, 0, 0, 0}, Keyframe: true}
			d.mu.Lock()
			dec := d.fwd.Forward(key)
			d.mu.Unlock()
			if !dec.Drop {
				t.Error("a keyframe was forwarded to a direct subscriber")
			}
			d.setDirect(false)
			tr.updateActiveLayers()
			if got := rec.take(); !equalLayers(got, [][]bool{c.resumed}) {
				t.Fatalf("layers after direct ended: %v, want %v", got, c.resumed)
			}
		})
	}
}

func equalLayers(a, b [][]bool) bool {
	return slices.EqualFunc(a, b, func(x, y []bool) bool { return slices.Equal(x, y) })
}
