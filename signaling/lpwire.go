package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Long-poll wire format (docs/protocol.md, "Long-poll transport"). Every
// message in either direction travels in an envelope with its sequence
// number, so a retried request neither loses nor repeats one.

// lpEnvelope is one protocol message and its sequence number. Client and
// server number their own messages from 1, one direction each.
type lpEnvelope struct {
	Seq     uint64          `json:"seq"`
	Message json.RawMessage `json:"message"`
}

// lpSendBody is the body of a POST: client messages in seq order.
type lpSendBody struct {
	Messages []lpEnvelope `json:"messages"`
}

// lpSendReply answers a POST: the highest client seq the server holds
// (and the session id, when the POST opened the session).
type lpSendReply struct {
	Session string `json:"session,omitempty"`
	Ack     uint64 `json:"ack"`
}

// lpPollReply answers a GET: every server message after the client's ack,
// and closed once the server ended the session (after these messages).
type lpPollReply struct {
	Messages []lpEnvelope `json:"messages"`
	Closed   bool         `json:"closed,omitempty"`
}

// lpErrorBody is the JSON body of every long-poll HTTP error: the
// protocol's error message, plus the ack where some messages were taken.
type lpErrorBody struct {
	Type    string  `json:"type"`
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Ack     *uint64 `json:"ack,omitempty"`
}

// Errors of the long-poll wire format.
var (
	// ErrLongPollBody reports a POST body that is not a valid batch.
	ErrLongPollBody = errors.New("signaling: bad long-poll body")
	// ErrLongPollQuery reports a bad query parameter (ack, wait).
	ErrLongPollQuery = errors.New("signaling: bad long-poll query")
)

// parseSendBody reads a POST body: a JSON object whose messages carry
// consecutive seqs starting at 1 or later, at most maxMessages of them. The
// messages themselves are checked later, one at a time, by Decode, exactly
// as WebSocket frames are; here each must only be present. It never panics
// on hostile input.
func parseSendBody(data []byte, maxMessages int) (*lpSendBody, error) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, newError(CodeBadJSON, "body is not a JSON object", ErrLongPollBody)
	}
	var b lpSendBody
	if err := json.Unmarshal(data, &b); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, newError(CodeBadRequest, "field "+typeErr.Field+" has the wrong type", fmt.Errorf("%w: %w", ErrLongPollBody, err))
		}
		return nil, newError(CodeBadJSON, "body is not valid JSON", fmt.Errorf("%w: %w", ErrLongPollBody, err))
	}
	if len(b.Messages) > maxMessages {
		return nil, newError(CodeTooLarge, fmt.Sprintf("%d messages in one request, at most %d", len(b.Messages), maxMessages), ErrLongPollBody)
	}
	for i, e := range b.Messages {
		if e.Seq == 0 {
			return nil, newError(CodeBadRequest, "seq starts at 1", ErrLongPollBody)
		}
		if i > 0 && e.Seq != b.Messages[i-1].Seq+1 {
			return nil, newError(CodeBadRequest, "seqs in one request must be consecutive", ErrLongPollBody)
		}
		if len(e.Message) == 0 {
			return nil, newError(CodeBadRequest, fmt.Sprintf("message %d missing", e.Seq), ErrLongPollBody)
		}
	}
	return &b, nil
}

// pollQuery is what a GET asks: drop everything up to ack, then wait up to
// wait for something newer.
type pollQuery struct {
	ack  uint64
	wait time.Duration
}

// Long-poll hold times: a poll waits at most lpMaxWait (below the 30 s or
// more that proxies allow an idle response), lpDefaultWait unless told.
const (
	lpDefaultWait = 20 * time.Second
	lpMaxWait     = 25 * time.Second
)

// parsePollQuery reads ack (default 0) and wait (whole seconds, default
// 20, at most 25; 0 answers at once).
func parsePollQuery(q url.Values) (pollQuery, error) {
	p := pollQuery{wait: lpDefaultWait}
	if v := q.Get("ack"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return p, newError(CodeBadRequest, "ack must be a non-negative integer", fmt.Errorf("%w: %w", ErrLongPollQuery, err))
		}
		p.ack = n
	}
	if v := q.Get("wait"); v != "" {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil || time.Duration(n)*time.Second > lpMaxWait {
			return p, newError(CodeBadRequest, "wait must be 0..25 seconds", ErrLongPollQuery)
		}
		p.wait = time.Duration(n) * time.Second
	}
	return p, nil
}
