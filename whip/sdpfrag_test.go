package whip

import (
	"errors"
	"net/http"
	"slices"
	"testing"
)

func TestParseSDPFrag(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   sdpFrag
		status int // 0: no error
	}{
		{
			name: "trickle (RFC 8840 example shape)",
			body: "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n" +
				"a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n" +
				"a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n" +
				"a=end-of-candidates\r\n",
			want: sdpFrag{Ufrag: "EsAw", Pwd: "P2uYro0UCOQ4zxjKXaWCBui1", Mid: "0", End: true, Candidates: []string{
				"candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1",
				"candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2",
			}},
		},
		{name: "candidates only, LF endings", body: "a=mid:1\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\n",
			want: sdpFrag{Mid: "1", Candidates: []string{"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}}},
		{name: "unknown lines skipped", body: "c=IN IP4 0.0.0.0\r\na=group:BUNDLE 0\r\na=mid:0\r\n", want: sdpFrag{Mid: "0"}},
		{name: "empty", body: "", want: sdpFrag{}},
		{name: "ufrag without pwd", body: "a=ice-ufrag:x\r\n", status: http.StatusBadRequest},
		{name: "too long", body: repeat("a=mid:0\r\n", maxFragLines+1), status: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSDPFrag(tt.body)
			if tt.status != 0 {
				var e *httpError
				if !errors.As(err, &e) || e.status != tt.status {
					t.Fatalf("err = %v, want status %d", err, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Ufrag != tt.want.Ufrag || got.Pwd != tt.want.Pwd || got.Mid != tt.want.Mid || got.End != tt.want.End ||
				!slices.Equal(got.Candidates, tt.want.Candidates) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// A fragment written by String parses back to itself, and its candidates
// carry the mid (or m-line 0) and the ufrag.
func TestSDPFragRoundTrip(t *testing.T) {
	f := sdpFrag{Ufrag: "u", Pwd: "p", Mid: "0", End: true, Candidates: []string{"candidate:1 1 udp 1 127.0.0.1 9 typ host"}}
	got, err := parseSDPFrag(f.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Ufrag != "u" || got.Pwd != "p" || got.Mid != "0" || !got.End || !slices.Equal(got.Candidates, f.Candidates) {
		t.Fatalf("round trip: %+v", got)
	}
	c := got.candidates()
	if len(c) != 1 || c[0].SDPMid == nil || *c[0].SDPMid != "0" || c[0].UsernameFragment == nil || *c[0].UsernameFragment != "u" {
		t.Fatalf("candidates: %+v", c)
	}
	noMid := sdpFrag{Candidates: f.Candidates}.candidates()
	if noMid[0].SDPMLineIndex == nil || *noMid[0].SDPMLineIndex != 0 || noMid[0].SDPMid != nil {
		t.Fatalf("candidate without mid: %+v", noMid[0])
	}
}
