package whip

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/pion/sdp/v3"
)

// Media types of the protocol.
const (
	typeSDP     = "application/sdp"
	typeSDPFrag = "application/trickle-ice-sdpfrag"
)

// readBody checks the content type and reads a body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, want string, limit int64) (string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return "", refuse(http.StatusUnsupportedMediaType, "content type must be "+want, err)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return "", refuse(http.StatusRequestEntityTooLarge, "body too large", err)
	case err != nil:
		return "", refuse(http.StatusBadRequest, "unreadable body", err)
	case len(data) == 0:
		return "", refuse(http.StatusBadRequest, "empty body", nil)
	}
	return string(data), nil
}

// checkOffer refuses, before anything is created, an offer that is not SDP
// (400) or has no audio or video section that could carry media in the
// wanted direction (422): "sendonly" for WHIP, "recvonly" for WHEP.
func checkOffer(offer, dir string) error {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(offer); err != nil {
		return refuse(http.StatusBadRequest, "offer is not valid SDP", err)
	}
	for _, m := range desc.MediaDescriptions {
		kind := m.MediaName.Media
		if (kind != "audio" && kind != "video") || m.MediaName.Port.Value == 0 {
			continue
		}
		d := "sendrecv"
		for _, a := range m.Attributes {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				d = a.Key
			}
		}
		if d == dir || d == "sendrecv" {
			return nil
		}
	}
	return refuse(http.StatusUnprocessableEntity, "offer has no "+dir+" audio or video section", nil)
}
