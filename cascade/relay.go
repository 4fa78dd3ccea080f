package cascade

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// Path is where a node accepts relays from the other nodes.
const Path = "/cluster/relay"

// SignatureHeader carries the hex HMAC-SHA256 of a relay request's body.
const SignatureHeader = "X-Hibiki-Relay-Signature"

// maxRelayBody bounds a relay request: an SDP offer and two small infos.
const maxRelayBody = 256 << 10

// maxSkew is how old (or how far ahead) a relay request may be: a captured
// request cannot be replayed later.
const maxSkew = 30 * time.Second

// Errors of relay requests, as the sending node reports them.
var (
	ErrRelayRefused = errors.New("cascade: relay refused")
	ErrNoRoute      = errors.New("cascade: node has no known address")
)

// relayRequest is the body of a relay request.
type relayRequest struct {
	Node  string         `json:"node"`
	At    int64          `json:"at"` // unix milliseconds
	Offer sfu.RelayOffer `json:"offer"`
}

type relayAnswer struct {
	SDP   string `json:"sdp,omitempty"`
	Error string `json:"error,omitempty"`
}

// DeriveSecret turns the cluster's shared token secret into the relay
// signing key, so a relay signature can never pass for a token's.
func DeriveSecret(shared string) []byte {
	m := hmac.New(sha256.New, []byte(shared))
	m.Write([]byte("hibiki relay v1"))
	return m.Sum(nil)
}

func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// dial sends a relay offer to node and returns its answer.
func (c *Coordinator) dial(ctx context.Context, node string, offer sfu.RelayOffer) (string, error) {
	base := c.base(node)
	if base == "" {
		return "", fmt.Errorf("%w: %s", ErrNoRoute, node)
	}
	body, err := json.Marshal(relayRequest{Node: c.cfg.NodeID, At: time.Now().UnixMilli(), Offer: offer})
	if err != nil {
		return "", fmt.Errorf("encode relay request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+Path, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("relay request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, sign(c.cfg.Secret, body))
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("relay request to %s: %w", node, err)
	}
	defer resp.Body.Close()
	var a relayAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxRelayBody)).Decode(&a); err != nil {
		return "", fmt.Errorf("%w: %s answered %s", ErrRelayRefused, node, resp.Status)
	}
	if resp.StatusCode != http.StatusOK || a.SDP == "" {
		return "", fmt.Errorf("%w: %s answered %s: %s", ErrRelayRefused, node, resp.Status, a.Error)
	}
	return a.SDP, nil
}

// ServeHTTP accepts a relay from another node: POST Path with a signed
// relayRequest; the answer is the receiving side's SDP.
func (c *Coordinator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		refuse(w, http.StatusMethodNotAllowed, "POST only")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRelayBody))
	if err != nil {
		refuse(w, http.StatusRequestEntityTooLarge, "body too large or unreadable")
		return
	}
	got, err := hex.DecodeString(r.Header.Get(SignatureHeader))
	want, _ := hex.DecodeString(sign(c.cfg.Secret, body))
	if err != nil || !hmac.Equal(got, want) {
		refuse(w, http.StatusUnauthorized, "bad signature")
		return
	}
	var req relayRequest
	if err := json.Unmarshal(body, &req); err != nil {
		refuse(w, http.StatusBadRequest, "malformed relay request")
		return
	}
	if d := time.Since(time.UnixMilli(req.At)); d > maxSkew || d < -maxSkew {
		refuse(w, http.StatusUnauthorized, "stale relay request")
		return
	}
	if req.Node == "" || req.Node == c.cfg.NodeID {
		refuse(w, http.StatusBadRequest, "bad sending node")
		return
	}
	room := c.cfg.SFU.Room(req.Offer.Room)
	if room == nil {
		// This node's part ended; the sender learns it from Redis too.
		refuse(w, http.StatusNotFound, "room not served here")
		return
	}
	answer, err := room.AcceptRelay(r.Context(), req.Node, req.Offer)
	if err != nil {
		refuse(w, relayStatus(err), err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(relayAnswer{SDP: answer})
}

func relayStatus(err error) int {
	switch {
	case errors.Is(err, sfu.ErrBadSDP), errors.Is(err, sfu.ErrBadKind):
		return http.StatusBadRequest
	case errors.Is(err, sfu.ErrNotRemote):
		return http.StatusConflict
	case errors.Is(err, sfu.ErrClosed):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

func refuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(relayAnswer{Error: msg})
}
