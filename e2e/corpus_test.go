package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// TestCaptureFuzzCorpus records what bots send a real in-process server
// (RTP with its header extensions, RTCP feedback, SDP, candidates) into
// the seed corpora of the sfu fuzz targets. It runs only on request:
//
//	HIBIKI_CAPTURE_CORPUS=1 go test ./e2e -run TestCaptureFuzzCorpus
func TestCaptureFuzzCorpus(t *testing.T) {
	if os.Getenv("HIBIKI_CAPTURE_CORPUS") == "" {
		t.Skip("set HIBIKI_CAPTURE_CORPUS=1 to rewrite the sfu fuzz seed corpora from live bots")
	}
	srv := startServer(t, nil)
	ctx := deadline(t, 60*time.Second)
	pubRec, subRec := &recorder{}, &recorder{}
	start := func(id string, publish bool, rec *recorder) *bot.Bot {
		b, err := bot.New(bot.Config{
			URL: srv.url, Room: "capture", Identity: id, Publish: publish, Simulcast: publish, Subscribe: !publish,
			Media: clips(t), Interceptors: func(r *interceptor.Registry) { r.Add(rec) },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		if err := b.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		return b
	}
	pub := start("pub", true, pubRec)
	sub := start("sub", false, subRec)
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= 150 }); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "sfu", "testdata")
	offer := pub.LocalDescription(signaling.TargetPublish)
	writeFile(t, filepath.Join(dir, "sdp", "bot-publish-offer.sdp"), offer)
	writeFile(t, filepath.Join(dir, "sdp", "bot-subscribe-answer.sdp"), sub.LocalDescription(signaling.TargetSubscribe))
	ids := extmapIDs(t, offer)
	pubRec.mu.Lock()
	for i, p := range pubRec.rtp {
		kind := uint8(1)
		if p[1]&0x7f == 111 {
			kind = 0
		}
		writeSeed(t, dir, "FuzzPublisherRTP", fmt.Sprintf("bot-%02d", i), p, kind)
		writeSeed(t, dir, "FuzzRTPHeaderExtensions", fmt.Sprintf("bot-%02d", i), p,
			ids[sdp.SDESMidURI], ids[sdp.SDESRTPStreamIDURI], ids[sdp.TransportCCURI], ids[sdp.ABSSendTimeURI])
	}
	pubRec.mu.Unlock()
	subRec.mu.Lock()
	for i, p := range subRec.rtcp {
		writeSeed(t, dir, "FuzzSubscriberRTCP", fmt.Sprintf("bot-%02d", i), p)
	}
	subRec.mu.Unlock()
	n := 0
	for _, desc := range []string{offer, sub.LocalDescription(signaling.TargetSubscribe)} {
		for _, l := range strings.Split(desc, "\r\n") {
			if c, ok := strings.CutPrefix(l, "a="); ok && strings.HasPrefix(c, "candidate:") {
				writeSeed(t, dir, "FuzzCandidate", fmt.Sprintf("bot-%02d", n), c, "", n%2 == 1)
				n++
			}
		}
	}
}

// recorder is an interceptor keeping the first packets of each outgoing
// RTP stream (a keyframe's start, a marker packet, later ones) and one
// outgoing RTCP compound packet of each kind.
type recorder struct {
	interceptor.NoOp
	mu      sync.Mutex
	perSSRC map[uint32]int
	rtp     [][]byte
	kinds   map[string]bool
	rtcp    [][]byte
}

func (r *recorder) NewInterceptor(string) (interceptor.Interceptor, error) { return r, nil }

func (r *recorder) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		r.keepRTP(h, payload)
		return w.Write(h, payload, a)
	})
}

func (r *recorder) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		r.keepRTCP(pkts)
		return w.Write(pkts, a)
	})
}

func (r *recorder) keepRTP(h *rtp.Header, payload []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.perSSRC == nil {
		r.perSSRC = map[uint32]int{}
	}
	n := r.perSSRC[h.SSRC]
	r.perSSRC[h.SSRC] = n + 1
	if n > 2 && n != 40 && n != 200 && !(h.Marker && n < 20) {
		return
	}
	if b, err := (&rtp.Packet{Header: *h, Payload: payload}).Marshal(); err == nil && len(r.rtp) < 40 {
		r.rtp = append(r.rtp, b)
	}
}

func (r *recorder) keepRTCP(pkts []rtcp.Packet) {
	kind := ""
	for _, p := range pkts {
		kind += fmt.Sprintf("%T,", p)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kinds == nil {
		r.kinds = map[string]bool{}
	}
	if r.kinds[kind] {
		return
	}
	r.kinds[kind] = true
	if b, err := rtcp.Marshal(pkts); err == nil {
		r.rtcp = append(r.rtcp, b)
	}
}

// extmapIDs maps header extension URIs to the ids an SDP gives them.
func extmapIDs(t *testing.T, desc string) map[string]uint8 {
	t.Helper()
	ids := map[string]uint8{}
	for _, l := range strings.Split(desc, "\r\n") {
		if v, ok := strings.CutPrefix(l, "a=extmap:"); ok {
			id, uri, _ := strings.Cut(v, " ")
			if n, err := strconv.Atoi(id); err == nil && n > 0 && n < 256 {
				ids[uri] = uint8(n)
			}
		}
	}
	return ids
}

// writeSeed writes one corpus entry in go test's fuzz file format.
func writeSeed(t *testing.T, dir, target, name string, args ...any) {
	t.Helper()
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case uint8:
			fmt.Fprintf(&b, "byte(%s)\n", strconv.QuoteRune(rune(v)))
		case bool:
			fmt.Fprintf(&b, "bool(%v)\n", v)
		default:
			t.Fatalf("seed type %T", a)
		}
	}
	writeFile(t, filepath.Join(dir, "fuzz", target, name), b.String())
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
