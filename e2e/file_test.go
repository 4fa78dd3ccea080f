package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// File transfer parameters, as examples/web/files.js uses them: 16 KiB
// chunks, a progress report every MiB, at most 4 MiB unacknowledged (below
// the server's 8 MiB per-receiver queue, so the server never has to pace
// the sender).
const (
	fileChunk  = 16 << 10
	fileAckGap = 1 << 20
	fileWindow = 4 << 20
)

// fileSink hashes a file as its chunks arrive and acknowledges progress.
type fileSink struct {
	mu       sync.Mutex
	h        hash.Hash
	received int
	acked    int
	done     chan struct{}
	total    int
}

// latencies collects one-way delays of ping messages (sender and receiver
// share the test's clock).
type latencies struct {
	mu   sync.Mutex
	seen map[uint32]time.Duration
}

func (l *latencies) add(payload []byte, at time.Time) {
	if len(payload) < 12 {
		return
	}
	seq := binary.BigEndian.Uint32(payload)
	sent := time.Unix(0, int64(binary.BigEndian.Uint64(payload[4:])))
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.seen[seq]; dup {
		l.seen[seq+1<<31] = 0 // duplicates are counted apart
		return
	}
	l.seen[seq] = at.Sub(sent)
}

// summary returns count, p50, p95 and max.
func (l *latencies) summary() (int, time.Duration, time.Duration, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ds := make([]time.Duration, 0, len(l.seen))
	for _, d := range l.seen {
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(ds)
	return len(ds), ds[len(ds)/2], ds[len(ds)*95/100], ds[len(ds)-1]
}

func pingPayload(seq uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, seq)
	return binary.BigEndian.AppendUint64(b, uint64(time.Now().UnixNano()))
}

// A 20 MB file goes from one bot to another through the server while the
// receiver also receives the sender's audio and video and a third bot's
// game data: the file arrives intact, the video never freezes, and lossy
// game messages keep a low latency while reliable ones queue behind the
// file. The figures are logged.
func TestFileTransferKeepsVideoAndGameData(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 60*time.Second)
	const total = 20 << 20
	file := make([]byte, total)
	rng := rand.NewChaCha8([32]byte{7})
	_, _ = rng.Read(file)
	want := sha256.Sum256(file)

	var acked struct {
		sync.Mutex
		n    int
		more chan struct{}
	}
	acked.more = make(chan struct{})
	sender := dataBot(ctx, t, srv, "file", "sender", signaling.AllGrants(), func(c *bot.Config) {
		c.Publish = true
		c.OnData = func(m bot.DataMessage) {
			if m.Topic == "file.progress" && len(m.Payload) == 8 {
				acked.Lock()
				acked.n = int(binary.BigEndian.Uint64(m.Payload))
				close(acked.more)
				acked.more = make(chan struct{})
				acked.Unlock()
			}
		}
	})
	sink := &fileSink{h: sha256.New(), done: make(chan struct{}), total: total}
	lossy := &latencies{seen: map[uint32]time.Duration{}}
	reliable := &latencies{seen: map[uint32]time.Duration{}}
	var receiver *bot.Bot
	receiver = dataBot(ctx, t, srv, "file", "receiver", signaling.AllGrants(), func(c *bot.Config) {
		c.Subscribe = true
		c.OnData = func(m bot.DataMessage) {
			switch m.Topic {
			case "file.chunk":
				sink.mu.Lock()
				sink.h.Write(m.Payload)
				sink.received += len(m.Payload)
				ack := sink.received-sink.acked >= fileAckGap || sink.received == sink.total
				if ack {
					sink.acked = sink.received
				}
				n := sink.received
				sink.mu.Unlock()
				if ack {
					go func() { // not on pion's read goroutine
						_, _ = receiver.SendData(ctx, bot.DataSend{To: []string{m.From}, Topic: "file.progress", Payload: binary.BigEndian.AppendUint64(nil, uint64(n))})
					}()
				}
				if n == sink.total {
					close(sink.done)
				}
			case "ping.lossy":
				lossy.add(m.Payload, m.At)
			case "ping.reliable":
				reliable.add(m.Payload, m.At)
			}
		}
	})
	player := dataBot(ctx, t, srv, "file", "player", signaling.AllGrants(), nil)
	if err := receiver.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("receiver tracks: %v", err)
	}
	vsid := sender.TrackSID("video")
	// A second of media first, so the video is in its steady state.
	v0, _ := trackStats(receiver, vsid)
	if _, err := receiver.WaitStats(ctx, func(bot.Stats) bool { v, _ := trackStats(receiver, vsid); return v.Frames >= v0.Frames+30 }); err != nil {
		t.Fatal(err)
	}
	recvSID := receiver.Self().SID

	pingCtx, stopPings := context.WithCancel(ctx)
	var pings sync.WaitGroup
	var sentLossy uint32
	pings.Add(1)
	go func() {
		defer pings.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint32(0); ; seq++ {
			select {
			case <-pingCtx.Done():
				sentLossy = seq
				return
			case <-tick.C:
			}
			_, _ = player.SendData(ctx, bot.DataSend{To: []string{recvSID}, Topic: "ping.lossy", Payload: pingPayload(seq), Lossy: true})
			if seq%5 == 0 {
				_, _ = player.SendData(ctx, bot.DataSend{To: []string{recvSID}, Topic: "ping.reliable", Payload: pingPayload(seq)})
			}
		}
	}()

	before, _ := trackStats(receiver, vsid)
	start := time.Now()
	for off := 0; off < total; off += fileChunk {
		for {
			acked.Lock()
			n, more := acked.n, acked.more
			acked.Unlock()
			if off-n < fileWindow {
				break
			}
			select {
			case <-more:
			case <-ctx.Done():
				t.Fatalf("file transfer stalled at %d bytes (acked %d)", off, n)
			}
		}
		if _, err := sender.SendData(ctx, bot.DataSend{To: []string{recvSID}, Topic: "file.chunk", Payload: file[off:min(off+fileChunk, total)]}); err != nil {
			t.Fatalf("send chunk at %d: %v", off, err)
		}
	}
	select {
	case <-sink.done:
	case <-ctx.Done():
		sink.mu.Lock()
		t.Fatalf("file incomplete: %d of %d bytes", sink.received, total)
	}
	elapsed := time.Since(start)
	after, _ := trackStats(receiver, vsid)
	stopPings()
	pings.Wait()

	sink.mu.Lock()
	got := sink.h.Sum(nil)
	sink.mu.Unlock()
	if string(got) != string(want[:]) {
		t.Fatalf("file corrupted: sha256 %x, want %x", got, want)
	}
	frames := after.Frames - before.Frames
	expected := uint64(elapsed.Seconds() * 30)
	t.Logf("20 MiB in %v (%.1f MB/s); video during it: %d frames (%.1f fps), %d new freezes, %d packets lost",
		elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds()/1e6, frames, float64(frames)/elapsed.Seconds(),
		after.Freezes-before.Freezes, after.Lost-before.Lost)
	if after.Freezes > before.Freezes {
		t.Errorf("video froze %d times during the transfer", after.Freezes-before.Freezes)
	}
	if frames < expected*8/10 {
		t.Errorf("video got %d frames during %v, want about %d", frames, elapsed, expected)
	}
	n, p50, p95, max := lossy.summary()
	rn, r50, r95, rmax := reliable.summary()
	t.Logf("lossy game messages during the transfer: %d of %d arrived, latency p50 %v p95 %v max %v", n, sentLossy, p50, p95, max)
	t.Logf("reliable messages on the same path: %d arrived, latency p50 %v p95 %v max %v", rn, r50, r95, rmax)
	if n < int(sentLossy)*9/10 {
		t.Errorf("only %d of %d lossy messages arrived on loopback", n, sentLossy)
	}
	if p95 > 150*time.Millisecond {
		t.Errorf("lossy p95 latency %v under load, want < 150 ms", p95)
	}
	if p50 > r50 {
		t.Errorf("lossy messages (p50 %v) were not ahead of reliable ones queued beside the file (p50 %v)", p50, r50)
	}
	// The player's reliable messages have a lane of their own in the
	// receiver's queue: they wait for one file chunk at a time, not for
	// the file (p95 3 s when they queued behind it, 0.1-0.2 s since).
	if r95 > time.Second {
		t.Errorf("reliable p95 latency %v beside the file, want < 1 s: queued behind the transfer", r95)
	}
}
