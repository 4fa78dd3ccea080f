package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/pion/webrtc/v4"
)

// Flow control of the bot's reliable channel, as a page does it with
// bufferedAmountLowThreshold: stop writing above dataHighWater, resume
// below dataLowWater.
const (
	dataHighWater = 1 << 20
	dataLowWater  = 256 << 10
	// maxStoredData bounds the messages kept for DataMessages when no
	// OnData callback consumes them.
	maxStoredData = 1 << 16
)

// ErrDataNotOpen is returned when the server's data channel is not open.
var ErrDataNotOpen = errors.New("bot: data channel not open")

// DataMessage is one message the bot received on a data channel.
type DataMessage struct {
	From, Topic string
	Payload     []byte
	Lossy, Text bool
	At          time.Time
}

// DataSend is one message to send: To empty means the whole room.
type DataSend struct {
	To      []string
	Topic   string
	Payload []byte
	Lossy   bool
	Text    bool
}

// DataError is an error envelope: the server refused message Seq.
type DataError struct {
	Seq           uint32
	Code, Message string
}

// dataClient holds the two channels the server opens on the subscribe
// connection; the bot sends on them too (docs/protocol.md).
type dataClient struct {
	log    *slog.Logger
	now    func() time.Time
	notify *notifier
	onData func(DataMessage)
	seq    atomic.Uint32

	mu       sync.Mutex
	channels map[string]*webrtc.DataChannel // by label, once open
	low      chan struct{}                  // closed and replaced at buffered-amount-low
	msgs     []DataMessage
	errs     []DataError
	closed   map[string]bool
}

func newDataClient(onData func(DataMessage), n *notifier, now func() time.Time, log *slog.Logger) *dataClient {
	return &dataClient{
		log: log, now: now, notify: n, onData: onData,
		channels: make(map[string]*webrtc.DataChannel), low: make(chan struct{}), closed: make(map[string]bool),
	}
}

// attach is the subscribe connection's OnDataChannel.
func (d *dataClient) attach(dc *webrtc.DataChannel) {
	label := dc.Label()
	lossy := label == sfu.LabelLossy
	if !lossy && label != sfu.LabelReliable {
		d.log.Warn("unknown data channel", "label", label)
		return
	}
	if !lossy {
		dc.SetBufferedAmountLowThreshold(dataLowWater)
		dc.OnBufferedAmountLow(func() {
			d.mu.Lock()
			close(d.low)
			d.low = make(chan struct{})
			d.mu.Unlock()
		})
	}
	dc.OnOpen(func() {
		d.mu.Lock()
		d.channels[label] = dc
		d.mu.Unlock()
		d.notify.notify()
	})
	dc.OnClose(func() {
		d.mu.Lock()
		delete(d.channels, label)
		d.closed[label] = true
		d.mu.Unlock()
		d.notify.notify()
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) { d.receive(m.Data, lossy) })
}

func (d *dataClient) receive(b []byte, lossy bool) {
	env, err := sfu.ParseDelivery(b)
	if err != nil {
		d.log.Warn("bad data envelope from server", "err", err)
		return
	}
	if env.Kind == sfu.EnvelopeError {
		d.mu.Lock()
		d.errs = append(d.errs, DataError{Seq: env.Seq, Code: env.Code, Message: env.Message})
		d.mu.Unlock()
		d.notify.notify()
		return
	}
	m := DataMessage{From: env.From, Topic: env.Topic, Payload: env.Payload, Lossy: lossy, Text: env.Flags&sfu.FlagText != 0, At: d.now()}
	if d.onData != nil {
		d.onData(m)
		return
	}
	d.mu.Lock()
	if len(d.msgs) < maxStoredData {
		d.msgs = append(d.msgs, m)
	}
	d.mu.Unlock()
	d.notify.notify()
}

func (d *dataClient) channel(label string) (*webrtc.DataChannel, chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.channels[label], d.low
}

// send encodes and writes one message; a reliable one waits while more
// than dataHighWater bytes are buffered.
func (d *dataClient) send(ctx context.Context, m DataSend) (uint32, error) {
	label := sfu.LabelReliable
	if m.Lossy {
		label = sfu.LabelLossy
	}
	var flags byte
	if m.Text {
		flags = sfu.FlagText
	}
	seq := d.seq.Add(1)
	b, err := sfu.AppendSend(make([]byte, 0, 16+len(m.Topic)+len(m.Payload)), sfu.Envelope{Flags: flags, Seq: seq, Topic: m.Topic, To: m.To, Payload: m.Payload})
	if err != nil {
		return 0, fmt.Errorf("encode data: %w", err)
	}
	for {
		dc, low := d.channel(label)
		if dc == nil {
			return 0, fmt.Errorf("%w: %s", ErrDataNotOpen, label)
		}
		if m.Lossy || dc.BufferedAmount() < dataHighWater {
			if err := dc.Send(b); err != nil {
				return 0, fmt.Errorf("send on %s: %w", label, err)
			}
			return seq, nil
		}
		select {
		case <-low:
		case <-ctx.Done():
			return 0, fmt.Errorf("await data buffer: %w", ctx.Err())
		}
	}
}

// SendData sends a data message through the server and returns its
// sequence number (errors about it carry the same number). A reliable
// message waits while the channel's buffer is full.
func (b *Bot) SendData(ctx context.Context, m DataSend) (uint32, error) {
	d := b.dataClient()
	if d == nil {
		return 0, ErrNotConnected
	}
	return d.send(ctx, m)
}

// WaitDataOpen blocks until both data channels are open.
func (b *Bot) WaitDataOpen(ctx context.Context) error {
	d := b.dataClient()
	if d == nil {
		return ErrNotConnected
	}
	return b.notify.waitFor(ctx, b.done, func() bool {
		r, _ := d.channel(sfu.LabelReliable)
		l, _ := d.channel(sfu.LabelLossy)
		return r != nil && l != nil
	})
}

// DataMessages returns the data messages received so far (none when
// Config.OnData consumes them).
func (b *Bot) DataMessages() []DataMessage {
	d := b.dataClient()
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]DataMessage(nil), d.msgs...)
}

// DataErrors returns the error envelopes the server sent.
func (b *Bot) DataErrors() []DataError {
	d := b.dataClient()
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]DataError(nil), d.errs...)
}

// WaitDataError blocks until the server refuses message seq and returns
// the error.
func (b *Bot) WaitDataError(ctx context.Context, seq uint32) (DataError, error) {
	var found DataError
	err := b.notify.waitFor(ctx, b.done, func() bool {
		for _, e := range b.DataErrors() {
			if e.Seq == seq {
				found = e
				return true
			}
		}
		return false
	})
	return found, err
}

// WaitData blocks until n received messages match pred.
func (b *Bot) WaitData(ctx context.Context, n int, pred func(DataMessage) bool) ([]DataMessage, error) {
	var out []DataMessage
	err := b.notify.waitFor(ctx, b.done, func() bool {
		out = out[:0]
		for _, m := range b.DataMessages() {
			if pred(m) {
				out = append(out, m)
			}
		}
		return len(out) >= n
	})
	return out, err
}

// DataChannelClosed reports whether the server closed the channel with
// that label (sfu.LabelReliable for a slow receiver).
func (b *Bot) DataChannelClosed(label string) bool {
	d := b.dataClient()
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed[label]
}

func (b *Bot) dataClient() *dataClient {
	b.partsMu.Lock()
	defer b.partsMu.Unlock()
	return b.data
}
