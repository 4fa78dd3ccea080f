package bot

import (
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
)

// Stats is a snapshot of everything a bot measured. It is a copy: callers
// may keep and compare snapshots.
type Stats struct {
	At    time.Time
	State string
	// ParticipantSID is the bot's own SID once joined.
	ParticipantSID string
	// Published are the bot's own tracks.
	Published []PublishedStats
	// Tracks are the tracks received on the subscribe connection, one entry
	// per received track (a track that went away stays with Ended set).
	Tracks []TrackStats
	Totals Totals
	// Reconnects counts sessions resumed on a new signaling socket;
	// PublishICERestarts the ICE restarts the bot made on its publish
	// connection, SubscribeICERestarts those the server made on the
	// subscribe connection.
	Reconnects, PublishICERestarts, SubscribeICERestarts int64
	// Server is the latest stats event: the server's bandwidth estimate for
	// this bot and the layer it chose per received track (nil before one).
	Server *ServerStats
	// Moves counts fresh joins on another node after the first join: a
	// draining node's redirect, or the node was gone. Tracks received
	// before a move stay in Tracks, ended.
	Moves int64
}

// ServerStats is the latest stats event with when it arrived and how many
// came so far.
type ServerStats struct {
	signaling.BandwidthStats
	At    time.Time
	Count int
}

// PublishedStats describes one track the bot sends.
type PublishedStats struct {
	TrackSID, ClientID, Kind string
	Muted                    bool
	// Layers has one entry (rid "") without simulcast, else q, h, f.
	Layers []LayerStats
	// PLIs and FIRs count keyframe requests received from the server;
	// KeyframeJumps counts the ones that made the clip jump.
	PLIs, FIRs, KeyframeJumps uint64
}

// LayerStats counts what one RTP stream of a published track sent.
type LayerStats struct {
	RID               string
	Width, Height     int
	Active            bool
	Packets, Bytes    uint64
	Frames, Keyframes uint64
}

// TrackStats is what the bot measured on one received track.
type TrackStats struct {
	TrackSID, ParticipantSID, Kind, MID string
	SSRC                                uint32

	Packets, Bytes uint64
	Lost           int64
	LossPct        float64
	Jitter         time.Duration
	// LatePackets arrived after the assembler had given their frame up.
	LatePackets uint64

	// Video frames: Frames are complete frames, Incomplete ones missed a
	// packet, Decodable ones a decoder could have shown (complete and with
	// their references). Audio counts each packet as a frame.
	Frames, Incomplete, Decodable, Keyframes uint64
	// SwitchCuts are frames cut short by a simulcast layer switch (see
	// assembledFrame.SwitchCut): not Incomplete, since nothing was lost
	// and a keyframe follows at once, but each is one skipped frame.
	SwitchCuts uint64
	// FirstFrameKeyframe tells whether the first complete video frame was a
	// keyframe (what a decoder needs); always true for audio.
	FirstFrameKeyframe bool
	// Width and Height are those of the latest keyframe received.
	Width, Height int
	// Freezes count gaps over 500 ms between decodable frames while the
	// track was neither muted nor paused; Frozen is a freeze in progress.
	Freezes    int
	FreezeTime time.Duration
	Frozen     bool
	// FirstFrameDelay is from when the bot could expect the track (its join,
	// or the trackPublished event for later tracks) to the first frame.
	FirstFrameDelay time.Duration
	FirstFrameAt    time.Time
	LastPacketAt    time.Time
	PLIsSent        uint64
	// PaddingPackets are padding-only packets (server bandwidth probes).
	PaddingPackets uint64
	// AudioLevel is the last RFC 6464 level received (-dBov, -1 if none);
	// VoicedPackets count packets with the V bit set.
	AudioLevel    int
	VoicedPackets uint64
	// Muted (by its publisher), Paused (by the server) and Hidden (by the
	// bot's own setVideoSize 0x0) suspend freeze counting.
	Muted, Paused, Hidden bool
	// Gone is set once the track was unpublished, its publisher left or the
	// bot unsubscribed; Ended once its RTP stream has closed.
	Gone, Ended bool
}

// Receiving tells whether the track has delivered its first frame and is
// still meant to flow.
func (t TrackStats) Receiving() bool { return !t.FirstFrameAt.IsZero() && !t.Ended && !t.Gone }

// Totals sum the per-track numbers.
type Totals struct {
	TracksReceiving                int // received tracks with a first frame and not ended
	PacketsReceived, BytesReceived uint64
	PacketsLost                    int64
	Frames, Incomplete, Decodable  uint64
	SwitchCuts                     uint64
	FirstFrameNotKeyframe          int
	Freezes                        int
	PacketsSent, BytesSent         uint64
	FramesSent                     uint64
}

// LossPct is lost packets over expected packets, in percent.
func (t Totals) LossPct() float64 {
	exp := float64(t.PacketsReceived) + float64(t.PacketsLost)
	if exp == 0 {
		return 0
	}
	return 100 * float64(t.PacketsLost) / exp
}

// VideoFrames is the number of complete video frames received on all
// tracks: the clock end-to-end tests wait on ("N more frames arrived").
func (s Stats) VideoFrames() uint64 {
	var n uint64
	for _, tr := range s.Tracks {
		if tr.Kind == "video" {
			n += tr.Frames
		}
	}
	return n
}

func (s *Stats) sum() {
	var t Totals
	for _, tr := range s.Tracks {
		if tr.Receiving() {
			t.TracksReceiving++
		}
		t.PacketsReceived += tr.Packets
		t.BytesReceived += tr.Bytes
		t.PacketsLost += tr.Lost
		t.Frames += tr.Frames
		t.Incomplete += tr.Incomplete
		t.SwitchCuts += tr.SwitchCuts
		t.Decodable += tr.Decodable
		if !tr.FirstFrameAt.IsZero() && !tr.FirstFrameKeyframe {
			t.FirstFrameNotKeyframe++
		}
		t.Freezes += tr.Freezes
	}
	for _, p := range s.Published {
		for _, l := range p.Layers {
			t.PacketsSent += l.Packets
			t.BytesSent += l.Bytes
			t.FramesSent += l.Frames
		}
	}
	s.Totals = t
}
