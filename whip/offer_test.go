package whip

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

func offerWith(sections ...string) string {
	s := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	for _, m := range sections {
		s += m
	}
	return s
}

func TestCheckOffer(t *testing.T) {
	video := func(dir string) string {
		return "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\na=" + dir + "\r\n"
	}
	rejected := "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n"
	data := "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
	noDir := "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
	tests := []struct {
		name, offer, dir string
		status           int
	}{
		{"sendonly for whip", offerWith(video("sendonly")), "sendonly", 0},
		{"sendrecv for whip", offerWith(video("sendrecv")), "sendonly", 0},
		{"no direction is sendrecv", offerWith(noDir), "recvonly", 0},
		{"recvonly for whep", offerWith(video("recvonly")), "recvonly", 0},
		{"recvonly for whip", offerWith(video("recvonly")), "sendonly", http.StatusUnprocessableEntity},
		{"inactive", offerWith(video("inactive")), "sendonly", http.StatusUnprocessableEntity},
		{"rejected section", offerWith(rejected), "sendonly", http.StatusUnprocessableEntity},
		{"data only", offerWith(data), "sendonly", http.StatusUnprocessableEntity},
		{"no sections", offerWith(), "sendonly", http.StatusUnprocessableEntity},
		{"not sdp", "hello", "sendonly", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkOffer(tt.offer, tt.dir)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *httpError
			if !errors.As(err, &e) || e.status != tt.status {
				t.Fatalf("err = %v, want status %d", err, tt.status)
			}
		})
	}
}

func TestReadBody(t *testing.T) {
	tests := []struct {
		name, ctype, body string
		status            int
	}{
		{"ok", "application/sdp", "v=0", 0},
		{"ok with parameters", "application/sdp; charset=utf-8", "v=0", 0},
		{"wrong type", "text/plain", "v=0", http.StatusUnsupportedMediaType},
		{"no type", "", "v=0", http.StatusUnsupportedMediaType},
		{"empty", "application/sdp", "", http.StatusBadRequest},
		{"too large", "application/sdp", strings.Repeat("x", 65), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/whip/x", strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			got, err := readBody(httptest.NewRecorder(), r, typeSDP, 64)
			var e *httpError
			switch {
			case tt.status == 0 && (err != nil || got != tt.body):
				t.Fatalf("readBody = %q, %v", got, err)
			case tt.status != 0 && (!errors.As(err, &e) || e.status != tt.status):
				t.Fatalf("err = %v, want status %d", err, tt.status)
			}
		})
	}
}

func TestICELinks(t *testing.T) {
	got := iceLinks([]webrtc.ICEServer{
		{URLs: []string{"stun:stun.example.org:3478"}},
		{URLs: []string{"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"}, Username: "u", Credential: "c"},
	})
	want := []string{
		`<stun:stun.example.org:3478>; rel="ice-server"`,
		`<turn:turn.example.org:3478?transport=udp>; rel="ice-server"; username="u"; credential="c"; credential-type="password"`,
		`<turns:turn.example.org:5349>; rel="ice-server"; username="u"; credential="c"; credential-type="password"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("iceLinks =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
