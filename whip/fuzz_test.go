package whip

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// FuzzParseSDPFrag feeds PATCH bodies to the trickle fragment parser. A
// fragment is refused with a 400 or parsed; a parsed one keeps ufrag and
// pwd together, writes back (String) to a fragment that parses to the same
// fields, and turns into one candidate init per candidate line, each bound
// to the mid or to m-line 0.
func FuzzParseSDPFrag(f *testing.F) {
	for _, s := range []string{
		"a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n" +
			"a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n" +
			"a=end-of-candidates\r\n",
		"a=mid:1\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\n",
		"c=IN IP4 0.0.0.0\r\na=group:BUNDLE 0\r\na=mid:0\r\n",
		"a=ice-ufrag:x\r\n",
		"a=candidate\r\na=ice-ufrag:a:b\r\na=ice-pwd: p \r\n",
		"a=mid:x\ry\r\n\r\n \t\r\n",
		strings.Repeat("a=candidate:1 1 udp 1 127.0.0.1 9 typ host\n", maxFragLines),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		frag, err := parseSDPFrag(body)
		if err != nil {
			var e *httpError
			if !errors.As(err, &e) || e.status != http.StatusBadRequest {
				t.Fatalf("refusal %v is not a 400", err)
			}
			return
		}
		if (frag.Ufrag == "") != (frag.Pwd == "") {
			t.Fatalf("ufrag %q without pwd %q accepted", frag.Ufrag, frag.Pwd)
		}
		if len(frag.Candidates) > maxFragLines {
			t.Fatalf("%d candidates accepted", len(frag.Candidates))
		}
		inits := frag.candidates()
		if len(inits) != len(frag.Candidates) {
			t.Fatalf("%d inits for %d candidates", len(inits), len(frag.Candidates))
		}
		for i, c := range inits {
			if c.Candidate != frag.Candidates[i] || !strings.HasPrefix(c.Candidate, "candidate:") {
				t.Fatalf("init %d is %q, line %q", i, c.Candidate, frag.Candidates[i])
			}
			if (c.SDPMid == nil) == (c.SDPMLineIndex == nil) {
				t.Fatalf("init %d names neither or both of mid and m-line", i)
			}
		}
		out := frag.String()
		if strings.Count(out, "\n") > maxFragLines {
			return // the written form adds lines (m=, empty credentials) and may pass the bound
		}
		again, err := parseSDPFrag(out)
		if err != nil {
			t.Fatalf("written fragment %q does not parse: %v", out, err)
		}
		if again.Ufrag != frag.Ufrag || again.Pwd != frag.Pwd || again.Mid != frag.Mid || again.End != frag.End ||
			!slices.Equal(again.Candidates, frag.Candidates) {
			t.Fatalf("round trip changed %+v into %+v", frag, again)
		}
	})
}

// sessionURL is what a POST's Location must look like: the door, the
// room, for WHEP the publisher's SID, and 128 random bits.
func sessionURL(whep bool, publisher string) *regexp.Regexp {
	if whep {
		return regexp.MustCompile(`^/whep/live/` + regexp.QuoteMeta(publisher) + `/[0-9a-f]{32}$`)
	}
	return regexp.MustCompile(`^/whip/live/[0-9a-f]{32}$`)
}

// FuzzDoorSession runs a WHIP or WHEP session through the real Handler in
// front of a real SFU (media on loopback): POST the fuzzed offer (to
// /whip/live, or to /whep/live/{stage} where a pion client publishes), PATCH the fuzzed fragment onto
// the session, DELETE it. Every request gets a status the protocol
// defines for it and never a 5xx; a created session returns an answer
// that parses, survives any PATCH (trickle, ICE restart or refusal) with
// its participant in the room (WHIP) or its downtracks on the stage's
// tracks (WHEP), and after the DELETE no session, no extra participant and
// no downtrack is left.
func FuzzDoorSession(f *testing.F) {
	offers := map[bool][]string{}
	for _, name := range []string{"bot-publish-offer.sdp", "chrome-offer.sdp"} {
		b, err := os.ReadFile(filepath.Join("..", "sfu", "testdata", "sdp", name))
		if err != nil {
			f.Fatal(err)
		}
		offers[false] = append(offers[false], string(b))
	}
	offers[false] = append(offers[false], "hello",
		offerWith("m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\na=sendonly\r\n"))
	offers[true] = []string{playerOffer(f), offers[false][1], "hello"}
	frags := []string{
		"",
		"a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n",
		"a=ice-ufrag:ZZZZ\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n" +
			"a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n",
		"a=mid:7\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n",
		"a=candidate:garbage\r\n",
		"a=ice-ufrag:x\r\n",
	}
	for whep, list := range offers {
		for _, o := range list {
			for _, fr := range frags {
				f.Add(o, fr, whep)
			}
		}
	}

	h, _ := newTestHandler(f)
	stage := newStage(f, h.sfu, "live")
	p := stage.p
	auth := "Bearer " + testToken(f, "live", signaling.Grants{CanPublish: true, CanSubscribe: true}, 24*time.Hour)
	do := func(method, path, ctype, body, ifMatch string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", auth)
		r.Header.Set("Content-Type", ctype)
		if ifMatch != "" {
			r.Header.Set("If-Match", ifMatch)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	room := h.sfu.Room("live")
	base := len(room.Participants()) // the stage and its watcher
	// state is the sessions of the door, the participants besides the
	// stage's and the downtracks on the stage's tracks.
	state := func(door string) (sessions, participants, downs int) {
		for _, sid := range stage.tracks {
			downs += room.Track(sid).Subscribers()
		}
		return h.Sessions()[door], len(room.Participants()) - base, downs
	}
	f.Fuzz(func(t *testing.T, offer, frag string, whep bool) {
		door, path := DoorWHIP, "/whip/live"
		if whep {
			door, path = DoorWHEP, "/whep/live/"+p.SID()
		}
		w := do(http.MethodPost, path, typeSDP, offer, "")
		switch w.Code {
		case http.StatusCreated:
		case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
			if s, n, d := state(door); s != 0 || n != 0 || d != 0 {
				t.Fatalf("refused offer (%d) left %d sessions, %d participants, %d downtracks", w.Code, s, n, d)
			}
			return
		default:
			t.Fatalf("POST = %d %q", w.Code, w.Body.String())
		}
		var answer sdp.SessionDescription
		if err := answer.UnmarshalString(w.Body.String()); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		loc, etag := w.Header().Get("Location"), w.Header().Get("ETag")
		if !sessionURL(whep, p.SID()).MatchString(loc) || etag == "" {
			t.Fatalf("Location %q, ETag %q", loc, etag)
		}
		live := func(step string) {
			t.Helper()
			s, n, d := state(door)
			if s != 1 || (!whep && (n != 1 || d != 0)) || (whep && (n != 0 || d == 0)) {
				t.Fatalf("after %s: %d sessions, %d participants, %d downtracks", step, s, n, d)
			}
		}
		live("POST")

		w = do(http.MethodPatch, loc, typeSDPFrag, frag, etag)
		switch w.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		case http.StatusOK: // an ICE restart: the server's new credentials
			got, err := parseSDPFrag(w.Body.String())
			if err != nil || got.Ufrag == "" || !got.End || w.Header().Get("ETag") == etag {
				t.Fatalf("restart answer %q (ETag %q after %q): %v", w.Body.String(), w.Header().Get("ETag"), etag, err)
			}
		default:
			t.Fatalf("PATCH = %d %q", w.Code, w.Body.String())
		}
		live("PATCH")

		if w = do(http.MethodDelete, loc, "", "", ""); w.Code != http.StatusOK {
			t.Fatalf("DELETE = %d %q", w.Code, w.Body.String())
		}
		if s, n, d := state(door); s != 0 || n != 0 || d != 0 {
			t.Fatalf("after DELETE: %d sessions, %d participants, %d downtracks", s, n, d)
		}
	})
}

// playerOffer is a WHEP player's offer as pion writes it: audio and video,
// receive only.
func playerOffer(tb testing.TB) string {
	tb.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			tb.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return offer.SDP
}
