package signaling

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func boolPtr(b bool) *bool    { return &b }
func intPtr(n int) *int       { return &n }
func strPtr(s string) *string { return &s }
func u16Ptr(n uint16) *uint16 { return &n }
func errCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// atLimit is an offer of exactly 1024 bytes, the limit TestDecodeValid uses.
var (
	atLimitSDP = strings.Repeat("a", 1024-len(`{"type":"offer","target":"publish","sdp":""}`))
	atLimit    = `{"type":"offer","target":"publish","sdp":"` + atLimitSDP + `"}`
)

func TestDecodeValid(t *testing.T) {
	if len(atLimit) != 1024 {
		t.Fatalf("fixture is %d bytes", len(atLimit))
	}
	tests := []struct {
		name string
		in   string
		want Message
	}{
		{"join", `{"type":"join","id":"1","token":"a.b.c","autoSubscribe":false}`,
			Message{Type: TypeJoin, ID: "1", Token: "a.b.c", AutoSubscribe: boolPtr(false)}},
		{"join resume", `{"type":"join","token":"t","resume":"PA_x"}`,
			Message{Type: TypeJoin, Token: "t", Resume: "PA_x"}},
		{"offer", `{"type":"offer","id":"2","target":"publish","sdp":"v=0\r\n"}`,
			Message{Type: TypeOffer, ID: "2", Target: TargetPublish, SDP: "v=0\r\n"}},
		{"answer", `{"type":"answer","target":"subscribe","sdp":"v=0\r\n"}`,
			Message{Type: TypeAnswer, Target: TargetSubscribe, SDP: "v=0\r\n"}},
		{"candidate", `{"type":"candidate","target":"publish","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`,
			Message{Type: TypeCandidate, Target: TargetPublish, Candidate: &ICECandidate{
				Candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
				SDPMid:    strPtr("0"), SDPMLineIndex: u16Ptr(0), UsernameFragment: strPtr("abcd"),
			}}},
		{"end of candidates", `{"type":"candidate","target":"subscribe","candidate":{"candidate":""}}`,
			Message{Type: TypeCandidate, Target: TargetSubscribe, Candidate: &ICECandidate{}}},
		{"publish with layers", `{"type":"publish","id":"3","track":{"cid":"c1","kind":"video","source":"camera","name":"cam","simulcast":true,"width":1280,"height":720,"layers":[{"rid":"q","width":320,"height":180},{"rid":"h","width":640,"height":360},{"rid":"f","width":1280,"height":720}]}}`,
			Message{Type: TypePublish, ID: "3", Track: &TrackInfo{
				ClientID: "c1", Kind: "video", Source: SourceCamera, Name: "cam", Simulcast: true, Width: 1280, Height: 720,
				Layers: []Layer{{"q", 320, 180}, {"h", 640, 360}, {"f", 1280, 720}},
			}}},
		{"unpublish", `{"type":"unpublish","id":"4","trackSid":"TR_1"}`,
			Message{Type: TypeUnpublish, ID: "4", TrackSID: "TR_1"}},
		{"mute", `{"type":"mute","id":"5","trackSid":"TR_1","muted":true}`,
			Message{Type: TypeMute, ID: "5", TrackSID: "TR_1", Muted: boolPtr(true)}},
		{"unmute keeps explicit false", `{"type":"mute","trackSid":"TR_1","muted":false}`,
			Message{Type: TypeMute, TrackSID: "TR_1", Muted: boolPtr(false)}},
		{"subscribe", `{"type":"subscribe","trackSid":"TR_2"}`, Message{Type: TypeSubscribe, TrackSID: "TR_2"}},
		{"unsubscribe", `{"type":"unsubscribe","trackSid":"TR_2"}`, Message{Type: TypeUnsubscribe, TrackSID: "TR_2"}},
		{"setVideoSize", `{"type":"setVideoSize","id":"6","trackSid":"TR_2","width":640,"height":360,"maxLayer":1}`,
			Message{Type: TypeSetVideoSize, ID: "6", TrackSID: "TR_2", Width: 640, Height: 360, MaxLayer: intPtr(1)}},
		{"leave", `{"type":"leave","id":"7"}`, Message{Type: TypeLeave, ID: "7"}},
		{"ping", `{"type":"ping"}`, Message{Type: TypePing}},
		{"unknown type is decoded", `{"type":"frobnicate"}`, Message{Type: "frobnicate"}},
		{"unknown fields ignored", `{"type":"ping","future":{"x":[1,2]},"id":"8"}`, Message{Type: TypePing, ID: "8"}},
		{"whitespace around object", " \n\t{\"type\":\"ping\"}\r\n", Message{Type: TypePing}},
		{"id of 64 characters", `{"type":"ping","id":"` + strings.Repeat("x", 64) + `"}`,
			Message{Type: TypePing, ID: strings.Repeat("x", 64)}},
		{"id of 64 multibyte characters", `{"type":"ping","id":"` + strings.Repeat("é", 64) + `"}`,
			Message{Type: TypePing, ID: strings.Repeat("é", 64)}},
		{"exactly at the limit", atLimit, Message{Type: TypeOffer, Target: TargetPublish, SDP: atLimitSDP}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in), 1024)
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Decode(%s)\n got %+v\nwant %+v", tt.in, *got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		code  string
		cause error
	}{
		{"empty frame", ``, 0, CodeBadJSON, nil},
		{"not json", `hello`, 0, CodeBadJSON, nil},
		{"truncated", `{"type":"join","token":"abc`, 0, CodeBadJSON, nil},
		{"trailing garbage", `{"type":"ping"}x`, 0, CodeBadJSON, nil},
		{"two objects", `{"type":"ping"}{"type":"ping"}`, 0, CodeBadJSON, nil},
		{"array", `[{"type":"ping"}]`, 0, CodeBadJSON, nil},
		{"string", `"ping"`, 0, CodeBadJSON, nil},
		{"number", `42`, 0, CodeBadJSON, nil},
		{"null", `null`, 0, CodeBadJSON, nil},
		{"whitespace only", " \n ", 0, CodeBadJSON, nil},
		{"missing type", `{"id":"1"}`, 0, CodeBadRequest, nil},
		{"empty type", `{"type":""}`, 0, CodeBadRequest, nil},
		{"null type", `{"type":null}`, 0, CodeBadRequest, nil},
		{"type not a string", `{"type":1}`, 0, CodeBadRequest, nil},
		{"width not a number", `{"type":"setVideoSize","trackSid":"T","width":"640"}`, 0, CodeBadRequest, nil},
		{"sdpMLineIndex out of range", `{"type":"candidate","target":"publish","candidate":{"candidate":"c","sdpMLineIndex":70000}}`, 0, CodeBadRequest, nil},
		{"track not an object", `{"type":"publish","track":"video"}`, 0, CodeBadRequest, nil},
		{"long id", `{"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`, 0, CodeBadRequest, nil},
		{"long multibyte id", `{"type":"ping","id":"` + strings.Repeat("é", 65) + `"}`, 0, CodeBadRequest, nil},
		{"oversized", `{"type":"ping","id":"` + strings.Repeat("x", 2000) + `"}`, 1024, CodeTooLarge, ErrMessageTooLarge},
		{"oversized garbage checked before parsing", strings.Repeat("{", 1025), 1024, CodeTooLarge, ErrMessageTooLarge},
		{"one byte over", `{"type":"ping","id":"` + strings.Repeat("z", 1025-len(`{"type":"ping","id":""}`)) + `"}`, 1024, CodeTooLarge, ErrMessageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(tt.in), tt.limit)
			if err == nil {
				t.Fatalf("Decode(%.60q) = %+v, want error %s", tt.in, m, tt.code)
			}
			if m != nil {
				t.Errorf("Decode returned a message with its error: %+v", m)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.Code != tt.code {
				t.Errorf("code = %q, want %q (err %v)", e.Code, tt.code, err)
			}
			if e.Message == "" {
				t.Error("error has no message for the client")
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.cause)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"without cause", newError(CodeForbidden, "no", nil), "forbidden: no"},
		{"with cause", newError(CodeInternal, "failed", cause), "internal: failed: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if got := errors.Is(tt.err, cause); got != (tt.err.Err != nil) {
				t.Errorf("errors.Is(cause) = %v", got)
			}
		})
	}
}

// decodeCodes are the codes Decode may return; anything else means a
// handler-level code leaked into frame parsing.
var decodeCodes = map[string]bool{CodeBadJSON: true, CodeBadRequest: true, CodeTooLarge: true}

// fuzzLimit is small enough that the fuzzer reaches the size check.
const fuzzLimit = 4096

func FuzzDecode(f *testing.F) {
	// The committed corpus in testdata/fuzz/FuzzDecode holds realistic
	// frames of every client message type; these add edge cases inline.
	for _, s := range []string{
		`{"type":"ping"}`,
		`{"type":"join","id":"1","token":"x"}`,
		`{"type":"ping","mids":{}}`,
		`{"type":"ping","id":"` + strings.Repeat("é", 64) + `"}`,
		"{\"type\":\"ping\",\"id\":\"\xff\xfe\"}",
		`null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data, fuzzLimit)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if !decodeCodes[e.Code] {
				t.Fatalf("unexpected code %q", e.Code)
			}
			if m != nil {
				t.Fatalf("message %+v returned with error", m)
			}
			return
		}
		if m == nil {
			t.Fatal("nil message without error")
		}
		if m.Type == "" || len([]rune(m.ID)) > 64 {
			t.Fatalf("accepted an invalid message: type %q, id %q", m.Type, m.ID)
		}
		enc, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", m, err)
		}
		m2, err := Decode(enc, 0)
		if err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		// omitempty makes an empty list or map and an absent one the same
		// thing on the wire; compare in that canonical form.
		if want := canonical(*m); !reflect.DeepEqual(want, *m2) {
			t.Fatalf("round trip changed the message\n in  %q\n enc %s\n got %#v\nwant %#v", data, enc, *m2, want)
		}
		enc2, err := json.Marshal(m2)
		if err != nil || string(enc2) != string(enc) {
			t.Fatalf("encoding is not stable: %s then %s (%v)", enc, enc2, err)
		}
	})
}

// canonical returns m with empty omitempty collections set to nil, which
// is how they decode after json.Marshal dropped them.
func canonical(m Message) Message {
	if len(m.Mids) == 0 {
		m.Mids = nil
	}
	if len(m.ICEServers) == 0 {
		m.ICEServers = nil
	}
	if len(m.Active) == 0 {
		m.Active = nil
	}
	if m.Track != nil {
		m.Track = canonicalTrack(m.Track)
	}
	if len(m.Participants) == 0 {
		m.Participants = nil
	} else {
		ps := make([]*ParticipantInfo, len(m.Participants))
		for i, p := range m.Participants {
			if p != nil {
				c := *p
				c.Tracks = canonicalTracks(p.Tracks)
				p = &c
			}
			ps[i] = p
		}
		m.Participants = ps
	}
	if m.Participant != nil {
		c := *m.Participant
		c.Tracks = canonicalTracks(c.Tracks)
		m.Participant = &c
	}
	return m
}

func canonicalTracks(ts []*TrackInfo) []*TrackInfo {
	if len(ts) == 0 {
		return nil
	}
	out := make([]*TrackInfo, len(ts))
	for i, t := range ts {
		if t != nil {
			t = canonicalTrack(t)
		}
		out[i] = t
	}
	return out
}

func canonicalTrack(t *TrackInfo) *TrackInfo {
	c := *t
	if len(c.Layers) == 0 {
		c.Layers = nil
	}
	return &c
}
