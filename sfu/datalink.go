package sfu

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Data channel labels the server creates on every subscribe connection.
const (
	LabelReliable = "reliable" // ordered, reliable: chat, files, state
	LabelLossy    = "lossy"    // unordered, maxRetransmits 0: game positions
)

// Water marks of the reliable channel of one receiver. The writer keeps at
// most highWater bytes in pion's SCTP buffer, so that the rest waits in the
// link's own queue, where its size is known and bounded, and a lossy
// message never finds more than highWater of reliable data ahead of it in
// SCTP: 128 KiB drain in about 30 ms at the 4-5 MB/s a transfer reaches on
// loopback, which bounds how late a game position can be behind a file.
const (
	highWater = 128 << 10
	lowWater  = 32 << 10
	// lossyBuffered is how much may sit in a receiver's lossy channel before
	// further lossy messages to it are dropped: old positions are worthless.
	lossyBuffered = 64 << 10
)

// ErrReceiverSlow is returned when a receiver's reliable queue stayed full:
// its reliable channel is closed and it gets no more reliable data.
var ErrReceiverSlow = errors.New("sfu: data receiver too slow")

// dataChannel is the part of a pion DataChannel a link uses; tests give a
// fake one.
type dataChannel interface {
	Send(data []byte) error
	BufferedAmount() uint64
	ReadyState() webrtc.DataChannelState
	Close() error
}

// dataLink is one receiver's side of the data relay: its two server-created
// channels and a bounded queue of reliable messages with one writer
// goroutine. Senders never write to a receiver's reliable channel
// themselves, so one receiver's slow SCTP path never blocks another.
//
// Policy (docs/protocol.md "Slow receivers"): lossy messages are sent at
// once or dropped; reliable ones queue up to maxQueued bytes. A sender that
// named the receiver waits up to slowTimeout for space (so a file transfer
// is paced by its receiver); a broadcast does not wait. A receiver whose
// queue stays full is declared slow: its reliable channel is closed.
type dataLink struct {
	logger      *slog.Logger
	stats       *Counters
	reliable    dataChannel
	lossy       dataChannel
	maxQueued   int
	slowTimeout time.Duration

	wake chan struct{} // one pending wake-up for the writer
	done chan struct{}

	mu sync.Mutex
	// pacer, when set (bandwidth estimation on), holds reliable messages
	// back to the subscriber's data budget; timer wakes the writer when
	// the budget allows the next one.
	pacer  *dataPacer
	timer  *time.Timer
	queue  senderLanes
	queued int
	space  chan struct{} // closed (and replaced) whenever the queue shrinks
	open   bool
	slow   bool
	closed bool
}

func newDataLink(reliable, lossy dataChannel, maxQueued int, slowTimeout time.Duration, stats *Counters, logger *slog.Logger) *dataLink {
	return &dataLink{
		logger: logger, stats: stats, reliable: reliable, lossy: lossy,
		maxQueued: maxQueued, slowTimeout: slowTimeout,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		space: make(chan struct{}),
	}
}

func (l *dataLink) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// opened is called when the reliable channel opens; what was queued before
// goes out then.
func (l *dataLink) opened() {
	l.mu.Lock()
	l.open = true
	l.mu.Unlock()
	l.poke()
}

// bufferedLow is pion's OnBufferedAmountLow: room in SCTP again.
func (l *dataLink) bufferedLow() { l.poke() }

// run is the writer: it moves queued messages into the reliable channel
// while SCTP holds less than highWater.
func (l *dataLink) run() {
	for {
		select {
		case <-l.done:
			return
		case <-l.wake:
		}
		for l.writeOne() {
		}
	}
}

// writeOne sends the head of the queue if the channel has room; false when
// the writer should wait for the next wake-up.
func (l *dataLink) writeOne() bool {
	l.mu.Lock()
	if !l.open || l.closed || l.queue.len() == 0 || l.reliable.BufferedAmount() >= highWater {
		l.mu.Unlock()
		return false
	}
	pacer := l.pacer
	if pacer != nil {
		if d := pacer.wait(time.Now()); d > 0 {
			l.wakeAfterLocked(d)
			l.mu.Unlock()
			return false
		}
	}
	msg := l.queue.pop()
	l.queued -= len(msg)
	close(l.space)
	l.space = make(chan struct{})
	l.mu.Unlock()
	if err := l.reliable.Send(msg); err != nil {
		l.logger.Debug("reliable data send", "err", err)
		l.stats.DataDropped.Add(1)
		return true
	}
	if pacer != nil {
		pacer.spent(len(msg), time.Now())
	}
	l.stats.DataOut.Add(1)
	return true
}

// wakeAfterLocked pokes the writer after d. l.mu is held.
func (l *dataLink) wakeAfterLocked(d time.Duration) {
	if l.timer == nil {
		l.timer = time.AfterFunc(d, l.poke)
		return
	}
	l.timer.Reset(d)
}

// pace puts the link's reliable messages under p from now on.
func (l *dataLink) pace(p *dataPacer) {
	l.mu.Lock()
	l.pacer = p
	l.mu.Unlock()
}

// enqueue queues a reliable message of sender from, waiting up to wait for
// space (0: no wait). A message larger than the whole queue is accepted
// into an empty one, so the size limit of messages, not of queues, decides
// what fits.
func (l *dataLink) enqueue(from string, msg []byte, wait time.Duration) error {
	var timer *time.Timer
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		if l.slow {
			l.mu.Unlock()
			return ErrReceiverSlow
		}
		if l.queued+len(msg) <= l.maxQueued || l.queue.len() == 0 {
			l.queue.push(from, msg)
			l.queued += len(msg)
			l.mu.Unlock()
			l.poke()
			return nil
		}
		space := l.space
		l.mu.Unlock()
		if wait <= 0 {
			l.markSlow()
			return ErrReceiverSlow
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-space:
		case <-timer.C:
			l.markSlow()
			return ErrReceiverSlow
		case <-l.done:
			return ErrClosed
		}
	}
}

// markSlow gives up on the receiver's reliable channel: the queue is
// dropped and the channel closed, which the client sees as the channel's
// close event. Its lossy channel keeps working.
func (l *dataLink) markSlow() {
	l.mu.Lock()
	if l.slow || l.closed {
		l.mu.Unlock()
		return
	}
	l.slow = true
	dropped := l.queue.len()
	l.queue.reset()
	l.queued = 0
	close(l.space)
	l.space = make(chan struct{})
	l.mu.Unlock()
	l.stats.DataDropped.Add(uint64(dropped))
	l.logger.Warn("data receiver too slow, reliable channel closed", "dropped", dropped)
	if err := l.reliable.Close(); err != nil {
		l.logger.Debug("close reliable channel", "err", err)
	}
}

// sendLossy sends at once or drops: a lossy message is never queued behind
// anything on the server.
func (l *dataLink) sendLossy(msg []byte) bool {
	if l.lossy.ReadyState() != webrtc.DataChannelStateOpen || l.lossy.BufferedAmount()+uint64(len(msg)) > lossyBuffered {
		l.stats.DataDropped.Add(1)
		return false
	}
	if err := l.lossy.Send(msg); err != nil {
		l.stats.DataDropped.Add(1)
		return false
	}
	l.mu.Lock()
	pacer := l.pacer
	l.mu.Unlock()
	if pacer != nil {
		pacer.spent(len(msg), time.Now())
	}
	l.stats.DataOut.Add(1)
	return true
}

// sendError queues an error envelope to this participant. It never waits
// and never declares the participant slow: with a full queue the error is
// dropped (the participant is the one flooding).
func (l *dataLink) sendError(seq uint32, code, message string) {
	msg := AppendDataError(nil, seq, code, message)
	l.mu.Lock()
	ok := !l.closed && !l.slow && l.queued+len(msg) <= l.maxQueued
	if ok {
		l.queue.push("", msg)
		l.queued += len(msg)
	}
	l.mu.Unlock()
	if !ok {
		l.logger.Debug("data error not delivered", "code", code)
		return
	}
	l.poke()
}

// close stops the writer; queued messages are dropped.
func (l *dataLink) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.queue.reset()
	l.queued = 0
	if l.timer != nil {
		l.timer.Stop()
	}
	l.mu.Unlock()
	close(l.done)
}
