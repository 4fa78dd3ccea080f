package cascade

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
	"go.uber.org/goleak"
)

// The coordinator's SFU runs pion's goroutines; none may outlive a test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSecret = DeriveSecret("shared")

// relayServer serves a coordinator's relay endpoint over a real listener,
// with one room "r" holding a local participant.
func relayServer(t testing.TB) (*httptest.Server, *sfu.Participant) {
	t.Helper()
	s, err := sfu.New(sfu.DefaultRTCConfig(), sfu.WithEmptyRoomGrace(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	p, _, err := s.Join("r", sfu.JoinRequest{Identity: "local", Grants: sfu.Grants{CanPublish: true, CanSubscribe: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{SFU: s, NodeID: "b", Secret: testSecret})
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv, p
}

func signedBody(t testing.TB, req relayRequest) []byte {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t testing.TB, url string, body []byte, sig string) (int, relayAnswer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a relayAnswer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a
}

// Every refusal of a relay request has its own status and says why; none
// takes the room down.
func TestRelayRequestRefusals(t *testing.T) {
	srv, local := relayServer(t)
	now := time.Now().UnixMilli()
	video := sfu.TrackInfo{SID: "TR_x", Kind: sfu.KindVideo}
	remote := sfu.ParticipantInfo{SID: "PA_remote", Identity: "far"}
	ok := relayRequest{Node: "a", At: now, Offer: sfu.RelayOffer{Room: "r", Participant: remote, Track: video, SDP: "v=0 garbage"}}
	with := func(f func(*relayRequest)) relayRequest {
		r := ok
		f(&r)
		return r
	}
	cases := []struct {
		name   string
		body   []byte
		sig    string // "" signs the body
		status int
	}{
		{"unsigned", signedBody(t, ok), "-", http.StatusUnauthorized},
		{"signed with another secret", signedBody(t, ok), sign(DeriveSecret("other"), signedBody(t, ok)), http.StatusUnauthorized},
		{"stale", signedBody(t, with(func(r *relayRequest) { r.At = now - time.Minute.Milliseconds() })), "", http.StatusUnauthorized},
		{"too large", bytes.Repeat([]byte("x"), maxRelayBody+1), "", http.StatusRequestEntityTooLarge},
		{"not JSON", []byte("{"), "", http.StatusBadRequest},
		{"from itself", signedBody(t, with(func(r *relayRequest) { r.Node = "b" })), "", http.StatusBadRequest},
		{"unknown room", signedBody(t, with(func(r *relayRequest) { r.Offer.Room = "nope" })), "", http.StatusNotFound},
		{"bad kind", signedBody(t, with(func(r *relayRequest) { r.Offer.Track.Kind = sfu.Kind(9) })), "", http.StatusBadRequest},
		{"bad SDP", signedBody(t, ok), "", http.StatusBadRequest},
		{"a local participant", signedBody(t, with(func(r *relayRequest) { r.Offer.Participant.SID = local.SID() })), "", http.StatusConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sig := c.sig
			switch sig {
			case "":
				sig = sign(testSecret, c.body)
			case "-":
				sig = ""
			}
			status, a := post(t, srv.URL, c.body, sig)
			if status != c.status || a.Error == "" || a.SDP != "" {
				t.Errorf("status %d, answer %+v; want %d with an error", status, a, c.status)
			}
		})
	}
	if local.Room().Participant(local.SID()) == nil {
		t.Error("the local participant is gone")
	}
	resp, err := http.Get(srv.URL + Path)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

// FuzzRelayRequest posts signed, arbitrary relay requests: the sender is
// trusted (it holds the secret) but may be buggy or of another version, so
// no body may get more than a refusal, and the room keeps its participant.
func FuzzRelayRequest(f *testing.F) {
	for _, s := range []string{
		`{"node":"a","at":0,"offer":{"Room":"r","Participant":{"SID":"PA_1"},"Track":{"SID":"TR_1","Kind":2},"SDP":"v=0"}}`,
		`{"node":"a","offer":{"Room":"r","Participant":{"SID":"PA_1","Tracks":[{"SID":"TR_1","Kind":1,"Layers":[{"RID":"q"}]}]},"Track":{"SID":"TR_1","Kind":1}}}`,
		`{"node":"","offer":{}}`, `[]`, `null`,
	} {
		f.Add(s)
	}
	srv, local := relayServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		// A fresh timestamp, so the fuzzer explores past the skew check.
		var req map[string]any
		if json.Unmarshal([]byte(body), &req) == nil && req != nil {
			req["at"] = time.Now().UnixMilli()
			b, _ := json.Marshal(req)
			body = string(b)
		}
		status, a := post(t, srv.URL, []byte(body), sign(testSecret, []byte(body)))
		switch {
		case status == http.StatusOK && !strings.HasPrefix(a.SDP, "v=0"):
			t.Fatalf("200 without an SDP answer: %+v", a)
		case status >= 500 && !strings.Contains(a.Error, "relay"):
			t.Fatalf("status %d: %s", status, a.Error)
		}
		if local.Room().Participant(local.SID()) == nil {
			t.Fatal("the local participant is gone")
		}
	})
}
