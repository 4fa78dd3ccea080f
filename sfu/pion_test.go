package sfu

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// pionSubscriber is one DownTrack on a real subscribe connection built as
// the SFU builds them (interceptors, SRTP, UDP on loopback), and a plain
// pion peer receiving it.
type pionSubscriber struct {
	down   *DownTrack
	server *webrtc.PeerConnection
	client *webrtc.PeerConnection
	remote chan *webrtc.TrackRemote
}

// newPionSubscriber connects d's subscriber to a fresh client peer. The
// client has no interceptors, so the test decides what RTCP it sends.
func newPionSubscriber(ctx context.Context, tb testing.TB, tp *transport, d *DownTrack) *pionSubscriber {
	tb.Helper()
	api, err := tp.newAPI(roleSubscribe, apiOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	server, err := api.NewPeerConnection(tp.pcConfig())
	if err != nil {
		tb.Fatal(err)
	}
	me, err := mediaEngine()
	if err != nil {
		tb.Fatal(err)
	}
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	capi := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
		webrtc.WithSettingEngine(tp.settings))
	client, err := capi.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		tb.Fatal(err)
	}
	s := &pionSubscriber{down: d, server: server, client: client, remote: make(chan *webrtc.TrackRemote, 1)}
	tb.Cleanup(func() {
		_ = server.Close()
		_ = client.Close()
	})
	client.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { s.remote <- tr })
	connected := make(chan struct{})
	server.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	sender, err := server.AddTrack(d)
	if err != nil {
		tb.Fatal(err)
	}
	d.sender = sender
	signalPair(tb, server, client)
	select {
	case <-connected:
	case <-ctx.Done():
		tb.Fatal("subscribe connection did not connect")
	}
	d.sub.(*Participant).subReady.Store(true)
	go d.readRTCP()
	return s
}

// signalPair runs offer/answer between two in-process peers, with all
// candidates gathered first.
func signalPair(tb testing.TB, offerer, answerer *webrtc.PeerConnection) {
	tb.Helper()
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		tb.Fatal(err)
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		tb.Fatal(err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		tb.Fatal(err)
	}
	<-gathered
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		tb.Fatal(err)
	}
}

// pionTrack is benchTrack with a layer cache and loggers, for real
// connections.
func pionTrack(tb testing.TB, n int) (*PublishedTrack, []*DownTrack, *transport) {
	tb.Helper()
	tp, err := newTransport(DefaultRTCConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tr, downs := benchTrack(n)
	tr.receivers[0] = &receiver{track: tr, cache: &packetCache{}}
	for _, d := range downs {
		p, _ := d.sub.(*Participant)
		p.logger = slog.New(slog.DiscardHandler)
		p.subReady.Store(false)
		d.bound, d.writer = false, nil
	}
	return tr, downs, tp
}

// lossyWriter loses the packet sent with one sequence number, once, as the
// network would (the client's SRTP replay check would discard a resend of a
// packet it already has).
type lossyWriter struct {
	webrtc.TrackLocalWriter
	lose uint16
	lost bool
}

func (w *lossyWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if h.SequenceNumber == w.lose && !w.lost {
		w.lost = true
		return len(payload), nil
	}
	return w.TrackLocalWriter.WriteRTP(h, payload)
}

func TestNACKThroughPion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, downs, tp := pionTrack(t, 1)
	d := downs[0]
	s := newPionSubscriber(ctx, t, tp, d)
	d.mu.Lock()
	lossy := &lossyWriter{TrackLocalWriter: d.writer}
	d.writer = lossy
	d.mu.Unlock()
	feed(t, tr, 1000, 1)
	var remote *webrtc.TrackRemote
	select {
	case remote = <-s.remote:
	case <-ctx.Done():
		t.Fatal("no track at the client")
	}
	_ = remote.SetReadDeadline(time.Now().Add(10 * time.Second))
	p, _, err := remote.ReadRTP()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	lossy.lose = p.SequenceNumber + 2
	feed(t, tr, 1001, 4)
	var got []uint16
	for len(got) < 3 {
		p, _, err := remote.ReadRTP()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, p.SequenceNumber)
	}
	if !lossy.lost || slices.Contains(got, lossy.lose) {
		t.Fatalf("got %v, packet %d was not lost", got, lossy.lose)
	}
	nack := &rtcp.TransportLayerNack{MediaSSRC: uint32(remote.SSRC()),
		Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{lossy.lose})}
	if err := s.client.WriteRTCP([]rtcp.Packet{nack}); err != nil {
		t.Fatal(err)
	}
	p, _, err = remote.ReadRTP()
	if err != nil {
		st := tr.owner.room.sfu.opts.stats
		t.Fatalf("read resend: %v (nacks %d resent %d)", err, st.NACKsReceived.Load(), st.PacketsResent.Load())
	}
	if p.SSRC != uint32(remote.SSRC()) || p.SequenceNumber != lossy.lose {
		t.Fatalf("resend ssrc %d seq %d, want ssrc %d seq %d", p.SSRC, p.SequenceNumber, remote.SSRC(), lossy.lose)
	}
	var desc VP8Descriptor
	if err := ParseVP8(p.Payload, &desc); err != nil || desc.PictureID == 0 {
		t.Fatalf("resent payload is not the rewritten VP8 packet: %v", err)
	}
}

// BenchmarkFanoutPion forwards through real subscribe connections: pion's
// interceptors, SRTP (GCM) and a UDP send per packet, plus the client's
// receive and decryption, which run on the same cores. Compare with
// BenchmarkFanout (hibiki's own work only) and the floor in
// docs/benchmarks.md.
func BenchmarkFanoutPion(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 4
	tr, downs, tp := pionTrack(b, n)
	for _, d := range downs {
		s := newPionSubscriber(ctx, b, tp, d)
		go func() {
			select {
			case remote := <-s.remote:
				drain(remote)
			case <-ctx.Done():
			}
		}()
	}
	r := tr.receivers[0]
	hdr, payload := vp8Packet(1, 3000, 1, true)
	p := Packet{Header: &hdr, Payload: payload}
	r.classify(&p)
	for _, d := range *tr.downs.Load() {
		d.WriteRTP(&p) // the keyframe
	}
	stats := tr.owner.room.sfu.opts.stats
	out0 := stats.PacketsOut.Load()
	raw := make([]byte, 1500)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		hdr.SequenceNumber++
		hdr.Timestamp += 3000
		pid := uint16(i+2) & 0x7fff
		payload[2], payload[3], payload[4] = 0x80|byte(pid>>8), byte(pid), 1
		r.classify(&p)
		m, _ := hdr.MarshalTo(raw)
		r.cache.store(hdr.SequenceNumber, append(raw[:m], payload...))
		for _, d := range *tr.downs.Load() {
			d.WriteRTP(&p)
		}
		if i%32 == 31 {
			time.Sleep(time.Millisecond) // stay under loopback buffer sizes
		}
	}
	// Wall time includes the pauses; CPU time of the process (both ends of
	// each connection) is what a forwarded packet costs.
	cpu := processCPU() - cpu0
	if sent := stats.PacketsOut.Load() - out0; sent != uint64(b.N*n) {
		b.Fatalf("forwarded %d packets, want %d", sent, b.N*n)
	}
	b.ReportMetric(float64(cpu)/float64(b.N*n), "cpu-ns/forward")
}

// processCPU is the user+system CPU time of this process in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func drain(remote *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := remote.Read(buf); err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			return
		}
	}
}
