package bot

import (
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// remoteTrack measures one received track. The reader goroutine feeds it
// packets; Stats reads it concurrently, hence the mutex. Everything takes
// the time as an argument so tests drive it with a fake clock.
type remoteTrack struct {
	sid, participantSID, kind, mid string
	ssrc                           uint32
	levelID                        uint8 // negotiated audio level extension id, 0 if none
	expectedAt                     time.Time

	mu         sync.Mutex
	stats      *rtpStats
	asm        *frameAssembler
	dec        *decodeTracker
	frz        *freezeDetector
	frames     uint64
	incomplete uint64
	switchCuts uint64
	decodable  uint64
	keyframes  uint64
	firstAt    time.Time
	firstKey   bool
	lastPacket time.Time
	width      int
	height     int
	plis       uint64
	padding    uint64
	level      int
	voiced     uint64
	muted      bool
	paused     bool
	hidden     bool // the bot itself set its video size to 0x0
	gone       bool // unpublished, its publisher left, or the bot unsubscribed
	ended      bool
}

func newRemoteTrack(sid, participantSID, kind, mid string, ssrc uint32, clockRate uint32, expectedAt time.Time) *remoteTrack {
	r := &remoteTrack{
		sid: sid, participantSID: participantSID, kind: kind, mid: mid, ssrc: ssrc,
		expectedAt: expectedAt,
		stats:      newRTPStats(clockRate),
		level:      -1,
	}
	if kind == webrtc.RTPCodecTypeVideo.String() {
		r.asm = newFrameAssembler(defaultHoleWait)
		r.dec = newDecodeTracker()
		r.frz = newFreezeDetector(freezeThreshold)
	}
	return r
}

// packetResult tells the reader what to do (send a PLI) and what to log
// after one packet.
type packetResult struct {
	pli           bool
	freeze        time.Duration // a freeze that just ended, 0 if none
	width, height int           // set when a keyframe changed the resolution
}

// handle records one packet of size bytes.
func (r *remoteTrack) handle(p *rtp.Packet, size int, now time.Time) packetResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res packetResult
	ext := r.stats.update(p.SequenceNumber, p.Timestamp, size, now)
	r.lastPacket = now
	if r.asm == nil {
		r.audioPacket(p, now)
		return res
	}
	if len(p.Payload) == 0 {
		// Padding only (a bandwidth probe): it fills its sequence number,
		// so it is no loss, but it belongs to no frame.
		r.padding++
		for _, f := range r.asm.push(rtpPacketInfo{ext: ext, ts: p.Timestamp, padding: true, arrival: now}, now) {
			r.videoFrame(f)
		}
		return res
	}
	v, err := parseVP8(p.Payload)
	if err != nil {
		v = vp8Packet{PictureID: -1} // counted as a packet; its frame will be incomplete
	}
	freezes, total, w, h := r.frz.count, r.frz.total, r.width, r.height
	for _, f := range r.asm.push(rtpPacketInfo{ext: ext, ts: p.Timestamp, marker: p.Marker, vp8: v, arrival: now}, now) {
		r.videoFrame(f)
	}
	if r.frz.count != freezes {
		res.freeze = r.frz.total - total
	}
	if r.width != w || r.height != h {
		res.width, res.height = r.width, r.height
	}
	if !r.stopped() && r.dec.needPLI(now) {
		r.plis++
		res.pli = true
	}
	return res
}

func (r *remoteTrack) audioPacket(p *rtp.Packet, now time.Time) {
	r.frames++
	r.decodable++
	if r.firstAt.IsZero() {
		r.firstAt, r.firstKey = now, true
	}
	if r.levelID != 0 {
		if b := p.GetExtension(r.levelID); len(b) > 0 {
			r.level = int(b[0] & 0x7f)
			if b[0]&0x80 != 0 {
				r.voiced++
			}
		}
	}
}

func (r *remoteTrack) videoFrame(f assembledFrame) {
	switch {
	case f.SwitchCut:
		r.switchCuts++
	case !f.Complete:
		r.incomplete++
	default:
		r.frames++
		if r.firstAt.IsZero() {
			r.firstAt, r.firstKey = f.At, f.Keyframe
		}
		if f.Keyframe {
			r.keyframes++
			r.width, r.height = f.Width, f.Height
		}
	}
	if r.dec.frame(f) {
		r.decodable++
		r.frz.frame(f.At)
	}
}

// setPaused tells the track that it was muted by its publisher or paused
// by the server, which suspends freeze counting and keyframe requests.
func (r *remoteTrack) setPaused(muted, paused bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.muted, r.paused = muted, paused
	r.updateFlow()
}

// setHidden records that the bot hid the track (setVideoSize 0x0): nothing
// is expected to arrive, whether or not the server says so.
func (r *remoteTrack) setHidden(hidden bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hidden = hidden
	r.updateFlow()
}

// setGone records that no more media is due on the track, even if pion
// keeps its receiver until the next renegotiation.
func (r *remoteTrack) setGone() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gone = true
	r.updateFlow()
}

func (r *remoteTrack) stopped() bool { return r.muted || r.paused || r.hidden || r.gone }

func (r *remoteTrack) updateFlow() {
	if r.frz != nil && r.frz.paused != r.stopped() {
		r.frz.setPaused(r.stopped())
	}
}

func (r *remoteTrack) end() {
	r.mu.Lock()
	r.ended = true
	r.mu.Unlock()
}

func (r *remoteTrack) snapshot(now time.Time) TrackStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := TrackStats{
		TrackSID: r.sid, ParticipantSID: r.participantSID, Kind: r.kind, MID: r.mid, SSRC: r.ssrc,
		Packets: r.stats.received, Bytes: r.stats.bytes,
		Lost: r.stats.lost(), LossPct: r.stats.lossPct(), Jitter: r.stats.jitterDuration(),
		Frames: r.frames, Incomplete: r.incomplete, SwitchCuts: r.switchCuts, Decodable: r.decodable, Keyframes: r.keyframes,
		FirstFrameKeyframe: r.firstKey, Width: r.width, Height: r.height,
		FirstFrameAt: r.firstAt, LastPacketAt: r.lastPacket, PLIsSent: r.plis, PaddingPackets: r.padding,
		AudioLevel: r.level, VoicedPackets: r.voiced,
		Muted: r.muted, Paused: r.paused, Hidden: r.hidden, Gone: r.gone, Ended: r.ended,
	}
	if !r.firstAt.IsZero() {
		s.FirstFrameDelay = r.firstAt.Sub(r.expectedAt)
	}
	if r.asm != nil {
		s.LatePackets = r.asm.late
		s.Freezes, s.FreezeTime = r.frz.count, r.frz.total
		s.Frozen = !r.ended && !r.gone && r.frz.frozen(now)
	}
	return s
}
