package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// whipPublisher is a WHIP client made of a plain pion PeerConnection: an
// Opus track and a VP8 track with three simulcast encodings (rids q, h, f)
// playing the bots' clips, restarting the clip (a keyframe) on PLI as an
// encoder would.
type whipPublisher struct {
	t        *testing.T
	pc       *webrtc.PeerConnection
	audio    *extTrack
	video    []*extTrack
	resp     *http.Response
	answer   string
	location string
	etag     string

	keyframe atomic.Bool
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// whipOptions shape the publisher's offer.
type whipOptions struct {
	noCandidates bool // strip candidates from the offer (they go by PATCH)
}

// newWHIPPublisher sets up the connection and its offer; post sends it.
func newWHIPPublisher(t *testing.T) *whipPublisher { return newWHIPPublisherLayers(t, 3) }

// newWHIPPublisherLayers is newWHIPPublisher with 1 (no simulcast, no
// rid) to 3 video encodings.
func newWHIPPublisherLayers(t *testing.T, layers int) *whipPublisher {
	t.Helper()
	pc, err := pionAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	w := &whipPublisher{t: t, pc: pc}
	t.Cleanup(w.close)
	w.audio = newExtTrack(webrtc.MimeTypeOpus, "whip-mic", "whip", "")
	atr, err := pc.AddTransceiverFromTrack(w.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	w.audio.mid = atr.Mid
	rids := media.RIDs()
	for _, rid := range rids[:layers] {
		if layers == 1 {
			rid = ""
		}
		w.video = append(w.video, newExtTrack(webrtc.MimeTypeVP8, "whip-camera", "whip", rid))
	}
	vtr, err := pc.AddTransceiverFromTrack(w.video[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range w.video[1:] {
		if err := vtr.Sender().AddEncoding(v); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range w.video {
		v.mid = vtr.Mid
		w.wg.Add(1)
		go w.readRTCP(vtr.Sender(), v.rid)
	}
	w.wg.Add(1)
	go w.readRTCP(atr.Sender(), "")
	return w
}

// offer creates the local offer, waiting for gathering unless the
// candidates are to be trickled.
func (w *whipPublisher) offer(opts whipOptions) string {
	offer, err := w.pc.CreateOffer(nil)
	if err != nil {
		w.t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(w.pc)
	if err := w.pc.SetLocalDescription(offer); err != nil {
		w.t.Fatal(err)
	}
	if opts.noCandidates {
		return offer.SDP // CreateOffer's SDP has no candidates yet
	}
	<-gathered
	return w.pc.LocalDescription().SDP
}

// post sends the offer to url with the bearer token and, on 201, applies
// the answer and starts sending.
func (w *whipPublisher) post(ctx context.Context, url, bearer, offer string) int {
	w.t.Helper()
	resp, body := doHTTP(ctx, w.t, http.MethodPost, url, bearer, "application/sdp", offer, nil)
	w.resp, w.answer = resp, body
	if resp.StatusCode != http.StatusCreated {
		return resp.StatusCode
	}
	w.location, w.etag = resp.Header.Get("Location"), resp.Header.Get("ETag")
	if err := w.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
		w.t.Fatalf("apply answer: %v", err)
	}
	var life context.Context
	life, w.cancel = context.WithCancel(context.Background())
	w.wg.Add(1)
	go w.send(life)
	return resp.StatusCode
}

// send plays the clips: 30 fps video on all three layers with one
// timestamp per frame, 20 ms Opus frames.
func (w *whipPublisher) send(ctx context.Context) {
	defer w.wg.Done()
	clips, err := loadClips()
	if err != nil {
		return
	}
	vt := time.NewTicker(time.Second / 30)
	at := time.NewTicker(20 * time.Millisecond)
	defer vt.Stop()
	defer at.Stop()
	var vp codecs.VP8Payloader
	vp.EnablePictureID = true
	var op codecs.OpusPayloader
	var vi, ai int
	var vts, ats uint32
	for {
		select {
		case <-ctx.Done():
			return
		case <-vt.C:
			if w.keyframe.Swap(false) {
				vi = 0
			}
			for l, track := range w.video {
				f := clips.Video[l].Frames[vi%len(clips.Video[l].Frames)]
				track.write(vp.Payload(1200, f.Data), vts)
			}
			vi++
			vts += 3000
		case <-at.C:
			f := clips.Audio.Frames[ai%len(clips.Audio.Frames)]
			w.audio.write(op.Payload(1200, f.Data), ats)
			ai++
			ats += media.AudioFrameSamples
		}
	}
}

// readRTCP drains a sender's RTCP and turns PLI/FIR into a keyframe.
func (w *whipPublisher) readRTCP(s *webrtc.RTPSender, rid string) {
	defer w.wg.Done()
	for {
		var pkts []rtcp.Packet
		var err error
		if rid == "" {
			pkts, _, err = s.ReadRTCP()
		} else {
			pkts, _, err = s.ReadSimulcastRTCP(rid)
		}
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				w.keyframe.Store(true)
			}
		}
	}
}

func (w *whipPublisher) close() {
	if w.cancel != nil {
		w.cancel()
	}
	_ = w.pc.Close()
	w.wg.Wait()
}

// doHTTP makes one request and returns the response with its body read.
func doHTTP(ctx context.Context, t *testing.T, method, url, bearer, contentType, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	// No keep-alive: an idle connection's goroutines would outlive the test
	// and trip goleak.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, string(data)
}
