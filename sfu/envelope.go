package sfu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Data messages travel on the server's data channels as binary envelopes,
// so payloads of any bytes pass untouched and the server reads only a few
// header bytes. docs/protocol.md ("Data channels") is the normative layout.
//
//	client -> server, kind 1 (send):
//	  kind(1) flags(1) seq(4, big endian) topicLen(1) topic
//	  destCount(1) { sidLen(1) sid }*destCount payload...
//	server -> client, kind 2 (deliver):
//	  kind(1) flags(1) senderLen(1) sender topicLen(1) topic payload...
//	server -> client, kind 3 (error):
//	  kind(1) flags(1)=0 seq(4) codeLen(1) code message...
const (
	EnvelopeSend    byte = 1
	EnvelopeDeliver byte = 2
	EnvelopeError   byte = 3
)

// FlagText marks a payload the sender passed as a string, so a browser can
// hand the receiver a string again. The server only copies it.
const FlagText byte = 1

// Envelope limits: short enough that a header costs little and that a
// hostile header cannot make the server allocate much.
const (
	MaxTopicLen = 64
	MaxSIDLen   = 64
	// MaxDestinations bounds one message's explicit destination list.
	MaxDestinations = 255
)

// Errors from ParseEnvelope; each means the client sent a malformed header.
var (
	ErrEnvelopeShort   = errors.New("sfu: data envelope truncated")
	ErrEnvelopeKind    = errors.New("sfu: data envelope of unknown kind")
	ErrEnvelopeFlags   = errors.New("sfu: data envelope has unknown flags")
	ErrEnvelopeTopic   = errors.New("sfu: data envelope topic invalid")
	ErrEnvelopeDestSID = errors.New("sfu: data envelope destination invalid")
)

// Envelope is a parsed client message. Topic, To and Payload alias the
// buffer that was parsed.
type Envelope struct {
	Flags   byte
	Seq     uint32
	Topic   string
	To      []string // empty: everyone else in the room
	Payload []byte
}

// ParseEnvelope reads a client's send envelope. It never panics and never
// allocates more than the destination list, whatever the input.
func ParseEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	if len(b) < 8 {
		return e, ErrEnvelopeShort
	}
	if b[0] != EnvelopeSend {
		return e, fmt.Errorf("%w: %d", ErrEnvelopeKind, b[0])
	}
	e.Flags = b[1]
	if e.Flags&^FlagText != 0 {
		return e, fmt.Errorf("%w: %#x", ErrEnvelopeFlags, e.Flags)
	}
	e.Seq = binary.BigEndian.Uint32(b[2:6])
	rest := b[6:]
	topic, rest, err := lengthPrefixed(rest, MaxTopicLen)
	if err != nil {
		return e, fmt.Errorf("%w: %w", ErrEnvelopeTopic, err)
	}
	if !utf8.Valid(topic) {
		return e, fmt.Errorf("%w: not UTF-8", ErrEnvelopeTopic)
	}
	e.Topic = string(topic)
	if len(rest) < 1 {
		return e, ErrEnvelopeShort
	}
	n := int(rest[0])
	rest = rest[1:]
	if n > 0 {
		e.To = make([]string, 0, n)
	}
	for range n {
		var sid []byte
		sid, rest, err = lengthPrefixed(rest, MaxSIDLen)
		if err != nil || len(sid) == 0 {
			return e, fmt.Errorf("%w: %w", ErrEnvelopeDestSID, errors.Join(err, ErrEnvelopeShort))
		}
		e.To = append(e.To, string(sid))
	}
	e.Payload = rest
	return e, nil
}

// lengthPrefixed splits a one-byte-length-prefixed field off b.
func lengthPrefixed(b []byte, max int) (field, rest []byte, err error) {
	if len(b) < 1 {
		return nil, nil, ErrEnvelopeShort
	}
	n := int(b[0])
	if n > max {
		return nil, nil, fmt.Errorf("length %d over %d", n, max)
	}
	if len(b) < 1+n {
		return nil, nil, ErrEnvelopeShort
	}
	return b[1 : 1+n], b[1+n:], nil
}

// AppendSend encodes a client's send envelope; clients (the bots, tests)
// use it. Fields over their limits are an error, not truncated.
func AppendSend(dst []byte, e Envelope) ([]byte, error) {
	if len(e.Topic) > MaxTopicLen {
		return dst, ErrEnvelopeTopic
	}
	if len(e.To) > MaxDestinations {
		return dst, fmt.Errorf("%w: %d destinations", ErrEnvelopeDestSID, len(e.To))
	}
	dst = append(dst, EnvelopeSend, e.Flags)
	dst = binary.BigEndian.AppendUint32(dst, e.Seq)
	dst = append(dst, byte(len(e.Topic)))
	dst = append(dst, e.Topic...)
	dst = append(dst, byte(len(e.To)))
	for _, sid := range e.To {
		if sid == "" || len(sid) > MaxSIDLen {
			return dst, ErrEnvelopeDestSID
		}
		dst = append(dst, byte(len(sid)))
		dst = append(dst, sid...)
	}
	return append(dst, e.Payload...), nil
}

// AppendDeliver encodes what receivers get: the sender's SID, the topic and
// the payload. from and topic come from the server (SID) and a parsed
// envelope, so they are within their limits.
func AppendDeliver(dst []byte, flags byte, from, topic string, payload []byte) []byte {
	dst = append(dst, EnvelopeDeliver, flags, byte(len(from)))
	dst = append(dst, from...)
	dst = append(dst, byte(len(topic)))
	dst = append(dst, topic...)
	return append(dst, payload...)
}

// AppendDataError encodes a refusal of the client's message seq.
func AppendDataError(dst []byte, seq uint32, code, message string) []byte {
	dst = append(dst, EnvelopeError, 0)
	dst = binary.BigEndian.AppendUint32(dst, seq)
	if len(code) > 255 {
		code = code[:255]
	}
	dst = append(dst, byte(len(code)))
	dst = append(dst, code...)
	return append(dst, message...)
}

// Delivery is a parsed server envelope, as a client reads it.
type Delivery struct {
	Kind    byte // EnvelopeDeliver or EnvelopeError
	Flags   byte
	From    string
	Topic   string
	Payload []byte
	// Seq, Code and Message are set for EnvelopeError.
	Seq           uint32
	Code, Message string
}

// ParseDelivery reads a server envelope (deliver or error). Clients in Go
// (the bots) use it; it is fuzzed with ParseEnvelope.
func ParseDelivery(b []byte) (Delivery, error) {
	var d Delivery
	if len(b) < 2 {
		return d, ErrEnvelopeShort
	}
	d.Kind, d.Flags = b[0], b[1]
	switch d.Kind {
	case EnvelopeDeliver:
		from, rest, err := lengthPrefixed(b[2:], MaxSIDLen)
		if err != nil {
			return d, fmt.Errorf("%w: sender: %w", ErrEnvelopeShort, err)
		}
		topic, rest, err := lengthPrefixed(rest, MaxTopicLen)
		if err != nil {
			return d, fmt.Errorf("%w: %w", ErrEnvelopeTopic, err)
		}
		d.From, d.Topic, d.Payload = string(from), string(topic), rest
		return d, nil
	case EnvelopeError:
		if len(b) < 7 {
			return d, ErrEnvelopeShort
		}
		d.Seq = binary.BigEndian.Uint32(b[2:6])
		code, rest, err := lengthPrefixed(b[6:], 255)
		if err != nil {
			return d, fmt.Errorf("%w: code: %w", ErrEnvelopeShort, err)
		}
		d.Code, d.Message = string(code), string(rest)
		return d, nil
	default:
		return d, fmt.Errorf("%w: %d", ErrEnvelopeKind, d.Kind)
	}
}
