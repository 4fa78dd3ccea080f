package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/pion/webrtc/v4"
)

// whepViewer is a WHEP player made of a plain pion PeerConnection with one
// receive-only audio and one receive-only video transceiver. It counts
// what arrives: packets per kind, and video frames (marker bits) and
// keyframes (VP8 payload header).
type whepViewer struct {
	t        *testing.T
	pc       *webrtc.PeerConnection
	location string
	etag     string
	wg       sync.WaitGroup

	mu        sync.Mutex
	packets   map[string]int
	frames    int
	keyframes int
	changed   chan struct{}
}

func newWHEPViewer(t *testing.T) *whepViewer {
	t.Helper()
	pc, err := pionAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &whepViewer{t: t, pc: pc, packets: map[string]int{}, changed: make(chan struct{}, 1)}
	t.Cleanup(func() {
		_ = pc.Close()
		v.wg.Wait()
	})
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.wg.Add(1)
		go v.read(tr)
	})
	return v
}

func (v *whepViewer) read(tr *webrtc.TrackRemote) {
	defer v.wg.Done()
	kind := tr.Kind().String()
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		v.mu.Lock()
		v.packets[kind]++
		if kind == "video" {
			// VP8 payload descriptor (RFC 7741): S bit and partition 0
			// start a frame; the P bit of the frame header is 0 on keyframes.
			if len(p.Payload) > 0 {
				if off := vp8HeaderLen(p.Payload); off < len(p.Payload) && p.Payload[0]&0x10 != 0 && p.Payload[off]&0x01 == 0 {
					v.keyframes++
				}
			}
			if p.Marker {
				v.frames++
			}
		}
		v.mu.Unlock()
		select {
		case v.changed <- struct{}{}:
		default:
		}
	}
}

// vp8HeaderLen is the length of a VP8 payload descriptor.
func vp8HeaderLen(b []byte) int {
	n := 1
	if b[0]&0x80 == 0 || len(b) < 2 {
		return n
	}
	x := b[1]
	n++
	if x&0x80 != 0 && len(b) > n { // I: picture id
		if b[n]&0x80 != 0 {
			n++
		}
		n++
	}
	if x&0x40 != 0 { // L: TL0PICIDX
		n++
	}
	if x&0x30 != 0 { // T or K
		n++
	}
	return n
}

// play posts the offer to url and applies the answer.
func (v *whepViewer) play(ctx context.Context, url, bearer string) (*http.Response, string) {
	v.t.Helper()
	offer, err := v.pc.CreateOffer(nil)
	if err != nil {
		v.t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(v.pc)
	if err := v.pc.SetLocalDescription(offer); err != nil {
		v.t.Fatal(err)
	}
	<-gathered
	resp, body := doHTTP(ctx, v.t, http.MethodPost, url, bearer, "application/sdp", v.pc.LocalDescription().SDP, nil)
	if resp.StatusCode == http.StatusCreated {
		v.location, v.etag = resp.Header.Get("Location"), resp.Header.Get("ETag")
		if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
			v.t.Fatalf("apply answer: %v", err)
		}
	}
	return resp, body
}

// wait blocks until cond holds on (packets by kind, frames, keyframes).
func (v *whepViewer) wait(ctx context.Context, cond func(packets map[string]int, frames, keyframes int) bool) error {
	for {
		v.mu.Lock()
		ok := cond(v.packets, v.frames, v.keyframes)
		v.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-v.changed:
		}
	}
}
