package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// FuzzJoinedSession drives the handlers of a joined session (a real
// Server in front of a real SFU, media on loopback, a real WebSocket) with
// arbitrary frames. An input is a short sequence of frames separated by
// '\n'; "$TRACK" in a frame becomes the sid of the last track the session
// published, so that mute, unpublish and setVideoSize reach a real track.
//
// Properties, for every frame within the size limit:
//   - it gets exactly one reply: the reply its type defines or an error
//     with a known code (never internal), echoing its id; answer,
//     candidate and the p2p relays may succeed silently; a frame Decode
//     refuses gets that error;
//   - the socket stays open and the session answers a ping after it;
//     only leave ends it (ok, then a normal close), and the input goes on
//     in a fresh session;
//   - the room lists the participant after every frame;
//   - once the socket closes, the participant leaves the room and the
//     server's goroutines return to their baseline.
func FuzzJoinedSession(f *testing.F) {
	h := newFuzzHarness(f)
	f.Fuzz(func(t *testing.T, input []byte) {
		frames := bytes.Split(input, []byte("\n"))
		if len(frames) > fuzzMaxFrames {
			frames = frames[:fuzzMaxFrames]
		}
		h.baseline = runtime.NumGoroutine()
		fs := h.join(t)
		for _, frame := range frames {
			if fs.track != "" {
				frame = bytes.ReplaceAll(frame, []byte("$TRACK"), []byte(fs.track))
			}
			if len(frame) > sessionFuzzHardLimit {
				// Beyond the hard limit the socket closes by design.
				continue
			}
			fs = fs.exchange(frame)
		}
		fs.leave()
	})
}

const (
	// fuzzMaxFrames bounds an input's frames; the rest is ignored.
	fuzzMaxFrames = 8
	// sessionFuzzLimit is the server's message limit; offers fit under it.
	sessionFuzzLimit     = 8 << 10
	sessionFuzzHardLimit = sessionFuzzLimit * hardLimitFactor
	fuzzRoom             = "fuzz"
	probePrefix          = "~probe-"
	// fuzzGoroutineSlack tolerates goroutines of the runtime that come
	// and go; a leaked session leaks more (its reader and writer, pion's
	// per connection).
	fuzzGoroutineSlack = 1
)

// knownCodes are the error codes of the protocol.
var knownCodes = []string{
	CodeBadJSON, CodeUnknownType, CodeTooLarge, CodeBadRequest, CodeBadToken, CodeTokenExpired,
	CodeForbidden, CodeNotJoined, CodeNotFound, CodeRoomFull, CodeServerFull, CodeRateLimited,
	CodeInternal, CodeUnavailable,
}

// replyTypes are the successful replies of each request type; a type
// listed with nil may also succeed without a reply.
var replyTypes = map[string][]string{
	TypeJoin:         {TypeJoined},
	TypeOffer:        {TypeAnswer},
	TypeAnswer:       nil,
	TypeCandidate:    nil,
	TypePublish:      {TypePublished},
	TypeUnpublish:    {TypeOK},
	TypeMute:         {TypeOK},
	TypeSubscribe:    {TypeOK},
	TypeUnsubscribe:  {TypeOK},
	TypeSetVideoSize: {TypeOK},
	TypeLeave:        {TypeOK},
	TypeP2POffer:     nil,
	TypeP2PAnswer:    nil,
	TypeP2PCandidate: nil,
	TypeP2PReady:     {TypeOK},
	TypeP2PFailed:    {TypeOK},
	TypePing:         {TypePong},
	TypeLobby:        {TypeLobbyJoined},
	TypeInvite:       {TypeOK},
	TypeAnswerInvite: {TypeOK},
	TypeCancelInvite: {TypeOK},
}

type fuzzHarness struct {
	*harness
	token    string
	baseline int // goroutines when the iteration started
	probes   int
}

// newFuzzHarness starts one server for every iteration of the target.
func newFuzzHarness(f *testing.F) *fuzzHarness {
	h := startHarness(f, func(c *Config) { c.MaxMessageSize = sessionFuzzLimit }, false)
	fh := &fuzzHarness{harness: h}
	tok, err := NewToken(testKey, testSecret, fuzzRoom, "fuzzer", "Fuzzer", Grants{CanPublish: true, CanSubscribe: true, CanPublishData: true}, 24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	fh.token = tok
	return fh
}

// fuzzSession is one joined socket of an iteration.
type fuzzSession struct {
	h     *fuzzHarness
	t     *testing.T
	c     *client
	sid   string
	track string // sid of the last published track
}

func (h *fuzzHarness) join(t *testing.T) *fuzzSession {
	t.Helper()
	c := h.connect(t)
	c.t = t
	r := c.request(&Message{Type: TypeJoin, Token: h.token, Capabilities: []string{CapabilityP2P}})
	if r.Type != TypeJoined {
		t.Fatalf("join answered with %+v", r)
	}
	return &fuzzSession{h: h, t: t, c: c, sid: r.SessionID}
}

// exchange sends one frame and checks its reply, then pings. It returns
// the session to go on with: a fresh one after a leave.
func (s *fuzzSession) exchange(frame []byte) *fuzzSession {
	t := s.t
	t.Helper()
	if err := s.c.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
		t.Fatalf("write: %v", err)
	}
	m, derr := Decode(frame, sessionFuzzLimit)
	if derr == nil && m.Type == TypeLeave {
		r := s.c.await("reply to leave", func(r *Message) bool { return r.ID == m.ID && (r.Type == TypeOK || r.Type == TypeError) })
		if r.Type != TypeOK {
			t.Fatalf("leave answered with %+v", r)
		}
		s.c.expectClosed()
		s.waitGone()
		return s.h.join(t)
	}
	// Everything up to the probe's pong is what the frame caused.
	s.h.probes++
	probe := probePrefix + strconv.Itoa(s.h.probes)
	s.c.send(&Message{Type: TypePing, ID: probe})
	var got []*Message
	for {
		r := s.c.await("pong "+probe, func(*Message) bool { return true })
		if r.ID == probe && r.Type == TypePong {
			break
		}
		if r.Type == TypeError && !slices.Contains(knownCodes, r.Code) {
			t.Fatalf("error with unknown code: %+v", r)
		}
		got = append(got, r)
	}
	// The replies to the frame: errors without an id for a frame Decode
	// refuses, else what carries its id and is an error or a reply its
	// type defines (events carry no id and other types).
	var (
		replies  []*Message
		wantCode string // the error the frame must get, if known
		silent   bool   // the frame may succeed without a reply
	)
	ambiguous := derr == nil && strings.HasPrefix(m.ID, probePrefix)
	if derr != nil {
		var e *Error
		if !errors.As(derr, &e) {
			t.Fatalf("Decode returned an untyped error: %v", derr)
		}
		wantCode = e.Code
		for _, r := range got {
			if r.Type == TypeError && r.ID == "" {
				replies = append(replies, r)
			}
		}
	} else {
		want, known := replyTypes[m.Type]
		if !known {
			wantCode = CodeUnknownType
		}
		silent = known && want == nil
		for _, r := range got {
			if r.ID == m.ID && (r.Type == TypeError || slices.Contains(want, r.Type)) {
				replies = append(replies, r)
			}
		}
	}
	switch {
	case ambiguous:
		// A frame posing as a probe: its pong and the probe's cannot be
		// told apart. The socket and room checks still hold.
	case len(replies) > 1 || len(replies) == 0 && !silent:
		t.Fatalf("frame %q got %d replies, want one: %s", frame, len(replies), dump(got))
	case len(replies) == 1:
		r := replies[0]
		if wantCode != "" && (r.Type != TypeError || r.Code != wantCode) {
			t.Fatalf("frame %q answered with %s, want error %s", frame, dump(replies), wantCode)
		}
		if r.Type == TypeError && r.Code == CodeInternal {
			t.Fatalf("frame %q answered with an internal error: %s", frame, dump(replies))
		}
		if r.Type == TypePublished && r.Track != nil {
			s.track = r.Track.SID
		}
	}
	if testing.Verbose() {
		t.Logf("%.80q -> %s", frame, dump(replies))
	}
	if !slices.Contains(s.h.participants(fuzzRoom), s.sid) {
		t.Fatalf("after frame %q the room no longer lists %s", frame, s.sid)
	}
	return s
}

// leave closes the socket normally and waits for the participant to leave
// and the server's goroutines to return to their baseline.
func (s *fuzzSession) leave() {
	s.t.Helper()
	_ = s.c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	s.c.expectClosed()
	s.waitGone()
}

func (s *fuzzSession) waitGone() {
	t := s.t
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		n := runtime.NumGoroutine()
		// The client's reader has ended; only its Cleanup is left.
		if !slices.Contains(s.h.participants(fuzzRoom), s.sid) && s.h.sig.Sessions() == 0 &&
			n <= s.h.baseline+fuzzGoroutineSlack {
			if testing.Verbose() {
				t.Logf("closed: %d goroutines, baseline %d", n, s.h.baseline)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after the socket closed: room %v, %d sessions, %d goroutines (baseline %d)\n%s",
				waitTimeout, s.h.participants(fuzzRoom), s.h.sig.Sessions(), n, s.h.baseline, stacks())
		}
		time.Sleep(time.Millisecond)
	}
}

func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func dump(ms []*Message) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "\n  %s id=%q", m.Type, m.ID)
		if m.Type == TypeError {
			fmt.Fprintf(&b, " %s: %s", m.Code, m.Message)
		}
	}
	return b.String()
}

// TestWriteJoinedSessionCorpus writes the seed corpus of FuzzJoinedSession
// (one valid frame of every client message type, sequences that reach a
// real track, malformed variants):
//
//	HIBIKI_WRITE_FUZZ_CORPUS=1 go test ./signaling -run TestWriteJoinedSessionCorpus
func TestWriteJoinedSessionCorpus(t *testing.T) {
	if os.Getenv("HIBIKI_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set HIBIKI_WRITE_FUZZ_CORPUS=1 to rewrite testdata/fuzz/FuzzJoinedSession")
	}
	offer := sdpSeed(t, TypeOffer, TargetPublish, "bot-publish-offer.sdp")
	chrome := sdpSeed(t, TypeOffer, TargetPublish, "chrome-offer.sdp")
	answer := sdpSeed(t, TypeAnswer, TargetSubscribe, "bot-subscribe-answer.sdp")
	pubAudio := `{"type":"publish","id":"p","track":{"cid":"mic-1","kind":"audio","source":"microphone","name":"Mic"}}`
	pubVideo := `{"type":"publish","id":"p","track":{"cid":"cam-1","kind":"video","source":"camera","name":"Cam","simulcast":true,"width":1280,"height":720,"layers":[{"rid":"q","width":320,"height":180},{"rid":"h","width":640,"height":360},{"rid":"f","width":1280,"height":720}]}}`
	seeds := map[string][]string{
		"join_again":         {`{"type":"join","id":"1","token":"x"}`},
		"offer":              {string(offer)},
		"offer_chrome":       {string(chrome)},
		"offer_twice":        {string(offer), string(chrome)},
		"offer_subscribe":    {`{"type":"offer","id":"1","target":"subscribe","sdp":"v=0\r\n"}`},
		"offer_garbage":      {`{"type":"offer","id":"1","target":"publish","sdp":"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"}`},
		"answer":             {string(answer)},
		"answer_publish":     {`{"type":"answer","id":"1","target":"publish","sdp":"v=0\r\n"}`},
		"candidate_host":     {`{"type":"candidate","id":"1","target":"publish","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`},
		"candidate_sub":      {`{"type":"candidate","id":"1","target":"subscribe","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0"}}`},
		"candidate_end":      {`{"type":"candidate","id":"1","target":"publish","candidate":{"candidate":""}}`},
		"candidate_garbage":  {`{"type":"candidate","id":"1","target":"publish","candidate":{"candidate":"candidate:x"}}`},
		"offer_then_cand":    {string(offer), `{"type":"candidate","id":"2","target":"publish","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0"}}`},
		"publish_audio":      {pubAudio},
		"publish_simulcast":  {pubVideo},
		"publish_badkind":    {`{"type":"publish","id":"1","track":{"cid":"d","kind":"data"}}`},
		"publish_nolayerrid": {`{"type":"publish","id":"1","track":{"cid":"v","kind":"video","layers":[{"rid":""}]}}`},
		"publish_offer":      {pubAudio, pubVideo, string(offer)},
		"mute_track":         {pubAudio, `{"type":"mute","id":"2","trackSid":"$TRACK","muted":true}`, `{"type":"mute","id":"3","trackSid":"$TRACK","muted":false}`},
		"mute_unknown":       {`{"type":"mute","id":"1","trackSid":"TR_x","muted":true}`},
		"mute_nomuted":       {`{"type":"mute","id":"1","trackSid":"TR_x"}`},
		"unpublish_track":    {pubVideo, `{"type":"unpublish","id":"2","trackSid":"$TRACK"}`},
		"unpublish_unknown":  {`{"type":"unpublish","id":"1","trackSid":"TR_x"}`},
		"subscribe":          {`{"type":"subscribe","id":"1","trackSid":"TR_x"}`},
		"subscribe_own":      {pubAudio, `{"type":"subscribe","id":"2","trackSid":"$TRACK"}`},
		"unsubscribe":        {`{"type":"unsubscribe","id":"1","trackSid":"TR_x"}`},
		"setVideoSize":       {pubVideo, `{"type":"setVideoSize","id":"2","trackSid":"$TRACK","width":480,"height":270,"maxLayer":1}`},
		"setVideoSize_hide":  {`{"type":"setVideoSize","id":"1","trackSid":"TR_x","width":0,"height":0}`},
		"setVideoSize_big":   {`{"type":"setVideoSize","id":"1","trackSid":"TR_x","width":99999,"height":-1,"maxLayer":7}`},
		"leave":              {`{"type":"leave","id":"1"}`},
		"leave_then_ping":    {`{"type":"leave","id":"1"}`, `{"type":"ping","id":"2"}`},
		"ping":               {`{"type":"ping","id":"1"}`},
		"lobby":              {`{"type":"lobby","id":"1","token":"x"}`},
		"invite":             {`{"type":"invite","id":"1","identity":"bob"}`},
		"answerInvite":       {`{"type":"answerInvite","id":"1","inviteId":"IV_x","accept":true}`},
		"cancelInvite":       {`{"type":"cancelInvite","id":"1","inviteId":"IV_x"}`},
		"p2pOffer":           {`{"type":"p2pOffer","id":"1","session":"P2_x","sdp":"v=0\r\n","mids":{"0":"TR_x"}}`},
		"p2pAnswer":          {`{"type":"p2pAnswer","id":"1","session":"P2_x","sdp":"v=0\r\n"}`},
		"p2pCandidate":       {`{"type":"p2pCandidate","id":"1","session":"P2_x","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}}`},
		"p2pCandidate_none":  {`{"type":"p2pCandidate","id":"1","session":"P2_x"}`},
		"p2pReady":           {`{"type":"p2pReady","id":"1","session":"P2_x"}`},
		"p2pFailed":          {`{"type":"p2pFailed","id":"1","session":"P2_x"}`},
		"p2p_nosession":      {`{"type":"p2pReady","id":"1"}`},
		"unknown_type":       {`{"type":"data","id":"1","payload":"aGk="}`},
		"bad_json":           {`{"type":"ping"`},
		"bad_notobject":      {`[1,2]`},
		"bad_null":           {`null`},
		"bad_empty":          {``},
		"bad_notype":         {`{"id":"1"}`},
		"bad_typenumber":     {`{"type":1}`},
		"bad_widthstring":    {`{"type":"setVideoSize","id":"1","trackSid":"TR_x","width":"1"}`},
		"bad_longid":         {`{"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`},
		"bad_invalidutf8":    {"{\"type\":\"publish\",\"id\":\"1\",\"track\":{\"cid\":\"\xff\",\"kind\":\"audio\"}}"},
		"too_large":          {`{"type":"ping","id":"1","sdp":"` + strings.Repeat("x", sessionFuzzLimit) + `"}`, `{"type":"ping","id":"2"}`},
		"all_types":          {`{"type":"ping"}`, pubAudio, `{"type":"mute","trackSid":"$TRACK","muted":true}`, `{"type":"setVideoSize","trackSid":"$TRACK","width":1,"height":1}`, `{"type":"subscribe","trackSid":"$TRACK"}`, `{"type":"unsubscribe","trackSid":"$TRACK"}`, `{"type":"unpublish","trackSid":"$TRACK"}`, `{"type":"candidate","target":"subscribe","candidate":{"candidate":""}}`},
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzJoinedSession")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, frames := range seeds {
		data := "go test fuzz v1\n[]byte(" + strconv.Quote(strings.Join(frames, "\n")) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sdpSeed is a frame carrying one of sfu/testdata/sdp's descriptions.
func sdpSeed(t *testing.T, typ, target, name string) []byte {
	t.Helper()
	sdp, err := os.ReadFile(filepath.Join("..", "sfu", "testdata", "sdp", name))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(&Message{Type: typ, ID: "o", Target: target, SDP: string(sdp)})
	if err != nil {
		t.Fatal(err)
	}
	return data
}
