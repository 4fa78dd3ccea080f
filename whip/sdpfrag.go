package whip

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"

	"github.com/pion/webrtc/v4"
)

// sdpFrag is an application/trickle-ice-sdpfrag body (RFC 8840): ICE
// credentials and candidates of the offerer-tagged media section. WHIP
// bundles everything on one transport, so one section is all there is.
type sdpFrag struct {
	Ufrag, Pwd string
	Mid        string
	Candidates []string // the values after "a=", e.g. "candidate:1 1 udp ..."
	End        bool     // a=end-of-candidates
}

// maxFragLines bounds what a PATCH may carry; a real client sends a few
// dozen lines at most.
const maxFragLines = 256

// parseSDPFrag reads a fragment. Unknown lines are skipped, as RFC 8840
// lets a fragment carry more than ICE attributes.
func parseSDPFrag(body string) (sdpFrag, error) {
	var f sdpFrag
	sc := bufio.NewScanner(strings.NewReader(body))
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if n++; n > maxFragLines {
			return sdpFrag{}, refuse(http.StatusBadRequest, "sdpfrag too long", nil)
		}
		key, val, _ := strings.Cut(strings.TrimPrefix(line, "a="), ":")
		switch {
		case !strings.HasPrefix(line, "a="):
			// m=, c= and other lines carry nothing ICE needs.
		case key == "ice-ufrag":
			f.Ufrag = val
		case key == "ice-pwd":
			f.Pwd = val
		case key == "mid":
			f.Mid = val
		case key == "candidate":
			f.Candidates = append(f.Candidates, "candidate:"+val)
		case key == "end-of-candidates":
			f.End = true
		}
	}
	if err := sc.Err(); err != nil {
		return sdpFrag{}, refuse(http.StatusBadRequest, "unreadable sdpfrag", err)
	}
	if (f.Ufrag == "") != (f.Pwd == "") {
		return sdpFrag{}, refuse(http.StatusBadRequest, "sdpfrag needs both ice-ufrag and ice-pwd", nil)
	}
	return f, nil
}

// candidates turns the fragment into pion candidate inits.
func (f sdpFrag) candidates() []webrtc.ICECandidateInit {
	out := make([]webrtc.ICECandidateInit, 0, len(f.Candidates))
	for _, c := range f.Candidates {
		init := webrtc.ICECandidateInit{Candidate: c}
		if f.Mid != "" {
			mid := f.Mid
			init.SDPMid = &mid
		} else {
			var zero uint16
			init.SDPMLineIndex = &zero
		}
		if f.Ufrag != "" {
			u := f.Ufrag
			init.UsernameFragment = &u
		}
		out = append(out, init)
	}
	return out
}

// String writes the fragment in RFC 8840 form: the answer to an ICE
// restart.
func (f sdpFrag) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", f.Ufrag, f.Pwd)
	if f.Mid != "" {
		fmt.Fprintf(&b, "m=audio 9 RTP/AVP 0\r\na=mid:%s\r\n", f.Mid)
	}
	for _, c := range f.Candidates {
		fmt.Fprintf(&b, "a=%s\r\n", c)
	}
	if f.End {
		b.WriteString("a=end-of-candidates\r\n")
	}
	return b.String()
}
