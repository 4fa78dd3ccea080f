package sfu

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
)

// DataConfig configures the data relay (docs/protocol.md "Data channels").
type DataConfig struct {
	// Disabled leaves data channels out of subscribe connections.
	Disabled bool
	// MaxMessageSize bounds a message's payload in bytes; larger ones are
	// refused with a too_large error envelope. Default 64 KiB.
	MaxMessageSize int
	// ReceiverQueue bounds the reliable bytes queued on the server for one
	// receiver. Default 8 MiB.
	ReceiverQueue int
	// SlowReceiverTimeout is how long a sender of a targeted reliable
	// message waits for a receiver's full queue before that receiver is
	// declared slow. Default 5 s.
	SlowReceiverTimeout time.Duration
	// BytesPerSecond bounds the data one participant may send (envelopes
	// on both channels), with a burst of one second's worth but at least
	// one largest message. Over it, reliable messages are paced (the
	// sender's channel is read more slowly) and lossy ones dropped; the
	// sender gets a rate_limited error at most once a second. Zero is
	// unlimited.
	BytesPerSecond int
}

func (c DataConfig) withDefaults() DataConfig {
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 64 << 10
	}
	if c.ReceiverQueue <= 0 {
		c.ReceiverQueue = 8 << 20
	}
	if c.SlowReceiverTimeout <= 0 {
		c.SlowReceiverTimeout = 5 * time.Second
	}
	return c
}

// sctpMaxMessage is the largest message the server's SCTP accepts (and
// announces as max-message-size): well above MaxMessageSize, so a message a
// little too large arrives and is refused with a clear error instead of
// pion closing the channel; clients' stacks refuse larger ones locally.
func (c DataConfig) sctpMaxMessage() uint32 {
	n := 4 * c.MaxMessageSize
	if min := c.MaxMessageSize + 6 + 1 + MaxTopicLen + 1 + MaxDestinations*(1+MaxSIDLen) + 1; n < min {
		n = min
	}
	if n < 256<<10 {
		n = 256 << 10
	}
	return uint32(n)
}

// Error codes of data error envelopes; they are the signaling error codes
// of docs/protocol.md plus receiver_slow.
const (
	DataCodeBadRequest   = "bad_request"
	DataCodeForbidden    = "forbidden"
	DataCodeTooLarge     = "too_large"
	DataCodeNotFound     = "not_found"
	DataCodeReceiverSlow = "receiver_slow"
	DataCodeRateLimited  = "rate_limited"
)

// DataConfig returns the data relay's configuration, defaults applied.
func (s *SFU) DataConfig() DataConfig { return s.opts.data }

// WithData configures the data relay.
func WithData(c DataConfig) Option { return func(o *options) { o.data = c } }

// openData creates the participant's two data channels on its subscribe
// connection. Clients send on the same channels: data needs no publish
// connection, so a participant that only plays the game has one connection.
func (p *Participant) openData() error {
	ordered, unordered, none := true, false, uint16(0)
	rel, err := p.sub.CreateDataChannel(LabelReliable, &webrtc.DataChannelInit{Ordered: &ordered})
	if err != nil {
		return fmt.Errorf("reliable data channel: %w", err)
	}
	lossy, err := p.sub.CreateDataChannel(LabelLossy, &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &none})
	if err != nil {
		return fmt.Errorf("lossy data channel: %w", err)
	}
	cfg := p.room.sfu.opts.data
	link := newDataLink(rel, lossy, cfg.ReceiverQueue, cfg.SlowReceiverTimeout, p.room.sfu.opts.stats, p.logger.With("data", true))
	rel.SetBufferedAmountLowThreshold(lowWater)
	rel.OnBufferedAmountLow(link.bufferedLow)
	rel.OnOpen(link.opened)
	rel.OnMessage(func(m webrtc.DataChannelMessage) { p.room.relayData(p, m, false) })
	lossy.OnMessage(func(m webrtc.DataChannelMessage) { p.room.relayData(p, m, true) })
	p.data = link
	p.room.sfu.goroutine(link.run)
	return nil
}

// relayData checks one message from a participant and hands it to its
// receivers. It runs on pion's read goroutine of the sender's channel, so a
// sender waiting for a slow receiver it named (reliable only) slows only its
// own channel.
func (r *Room) relayData(from *Participant, m webrtc.DataChannelMessage, lossy bool) {
	r.sfu.opts.stats.DataIn.Add(1)
	if m.IsString {
		r.refuseData(from, 0, DataCodeBadRequest, "data messages are binary envelopes")
		return
	}
	env, err := ParseEnvelope(m.Data)
	if err != nil {
		r.refuseData(from, 0, DataCodeBadRequest, err.Error())
		return
	}
	if !from.grants.CanPublishData {
		r.refuseData(from, env.Seq, DataCodeForbidden, "token does not grant canPublishData")
		return
	}
	if !r.limitData(from, env.Seq, len(m.Data), lossy) {
		return
	}
	if max := r.sfu.opts.data.MaxMessageSize; len(env.Payload) > max {
		r.refuseData(from, env.Seq, DataCodeTooLarge, fmt.Sprintf("payload of %d bytes exceeds the %d byte limit", len(env.Payload), max))
		return
	}
	targets, remote, missing := r.dataTargets(from, env.To)
	if len(missing) > 0 {
		r.refuseData(from, env.Seq, DataCodeNotFound, "no such participant: "+strings.Join(missing, ","))
	}
	out := AppendDeliver(make([]byte, 0, 4+len(from.sid)+len(env.Topic)+len(env.Payload)), env.Flags, from.sid, env.Topic, env.Payload)
	if send := r.sfu.opts.remoteData; send != nil {
		for node, sids := range remote {
			send(RemoteData{Node: node, Room: r.name, To: sids, Deliver: out, Lossy: lossy})
		}
	}
	var wait time.Duration
	if len(env.To) > 0 {
		wait = r.sfu.opts.data.SlowReceiverTimeout
	}
	for _, q := range targets {
		if lossy {
			q.data.sendLossy(out)
			continue
		}
		if err := q.data.enqueue(from.sid, out, wait); errors.Is(err, ErrReceiverSlow) && len(env.To) > 0 {
			r.refuseData(from, env.Seq, DataCodeReceiverSlow, "receiver too slow: "+q.sid)
		}
	}
}

// RemoteData is a data message for participants another node serves: the
// deliver envelope as they will receive it, and whom it is for (nil: every
// participant of that node in the room).
type RemoteData struct {
	Node, Room string
	To         []string
	Deliver    []byte
	Lossy      bool
}

// WithRemoteData hands data messages addressed to remote participants to
// send, which carries them to their node (the cascade coordinator); there
// Room.DeliverData hands them out. send must not block.
func WithRemoteData(send func(RemoteData)) Option {
	return func(o *options) { o.remoteData = send }
}

// DeliverData hands a data message from another node to the local
// participants it is for (to nil: all of them). It never waits for a slow
// receiver: the sender is on another node and cannot be slowed from here.
func (r *Room) DeliverData(to []string, deliver []byte, lossy bool) {
	d, err := ParseDelivery(deliver)
	if err != nil || d.Kind != EnvelopeDeliver {
		r.logger.Debug("remote data dropped: not a deliver envelope", "err", err)
		return
	}
	for _, q := range r.Local() {
		if q.data == nil || (to != nil && !slices.Contains(to, q.sid)) || q.sid == d.From {
			continue
		}
		if lossy {
			q.data.sendLossy(deliver)
		} else {
			_ = q.data.enqueue(d.From, deliver, 0)
		}
	}
}

func (r *Room) refuseData(p *Participant, seq uint32, code, msg string) {
	r.sfu.opts.stats.DataRefused.Add(1)
	p.logger.Debug("data refused", "code", code, "msg", msg)
	if p.data != nil {
		p.data.sendError(seq, code, msg)
	}
}

// dataTargets resolves a destination list (empty: everyone else) to the
// participants that have a data link here and, per node, the remote
// participants served there (nil list: all of that node's); missing lists
// unknown SIDs.
func (r *Room) dataTargets(from *Participant, to []string) (targets []*Participant, remote map[string][]string, missing []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	addRemote := func(q *Participant, sid string) {
		if remote == nil {
			remote = make(map[string][]string)
		}
		if sid == "" {
			remote[q.origin] = nil
			return
		}
		remote[q.origin] = append(remote[q.origin], sid)
	}
	if len(to) == 0 {
		for _, q := range r.order {
			switch {
			case q.origin != "" && from.origin == "":
				addRemote(q, "")
			case q != from && q.data != nil:
				targets = append(targets, q)
			}
		}
		return targets, remote, nil
	}
	seen := make(map[string]bool, len(to))
	for _, sid := range to {
		if seen[sid] || sid == from.sid {
			continue
		}
		seen[sid] = true
		q, ok := r.participants[sid]
		switch {
		case ok && q.origin != "" && from.origin == "":
			addRemote(q, sid)
		case !ok || q.data == nil:
			missing = append(missing, sid)
		default:
			targets = append(targets, q)
		}
	}
	return targets, remote, missing
}
