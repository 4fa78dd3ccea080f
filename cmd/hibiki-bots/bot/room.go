package bot

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
)

// maxEvents bounds the event log kept for WaitMessage and Events.
const maxEvents = 4096

// RemoteTrack is a track another participant published, as the server
// announced it.
type RemoteTrack struct {
	ParticipantSID string
	Info           signaling.TrackInfo
	Muted, Paused  bool
	// ExpectedAt is when the bot learned of the track: its join for tracks
	// already there, else the trackPublished event.
	ExpectedAt time.Time
}

// roomState is the bot's view of the room, built from joined and the
// events after it.
type roomState struct {
	mu           sync.Mutex
	joinedAt     time.Time
	participants map[string]signaling.ParticipantInfo
	tracks       map[string]RemoteTrack
	events       []signaling.Message
	dropped      int // events cut from the front of the log
	stats        *signaling.BandwidthStats
	statsAt      time.Time
	statsCount   int
}

// setStats records the latest stats event.
func (r *roomState) setStats(s signaling.BandwidthStats, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats, r.statsAt = &s, now
	r.statsCount++
}

// serverStats returns the latest stats event, nil before the first.
func (r *roomState) serverStats() *ServerStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stats == nil {
		return nil
	}
	s := *r.stats
	s.Tracks = slices.Clone(s.Tracks)
	return &ServerStats{BandwidthStats: s, At: r.statsAt, Count: r.statsCount}
}

func newRoomState() *roomState {
	return &roomState{
		participants: make(map[string]signaling.ParticipantInfo),
		tracks:       make(map[string]RemoteTrack),
	}
}

func (r *roomState) joined(m *signaling.Message, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.joinedAt = now
	// A fresh join (also after a move to another node) starts a new view.
	clear(r.participants)
	clear(r.tracks)
	for _, p := range m.Participants {
		if p == nil {
			continue
		}
		r.participants[p.SID] = *p
		for _, t := range p.Tracks {
			if t != nil {
				r.tracks[t.SID] = RemoteTrack{ParticipantSID: p.SID, Info: *t, Muted: t.Muted, ExpectedAt: now}
			}
		}
	}
	r.log(m)
}

// resumed replaces the view with the snapshot of a resumed joined: events
// sent while the socket was down are lost, the snapshot is the truth.
func (r *roomState) resumed(m *signaling.Message, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	participants := make(map[string]signaling.ParticipantInfo, len(m.Participants))
	tracks := make(map[string]RemoteTrack)
	for _, p := range m.Participants {
		if p == nil {
			continue
		}
		participants[p.SID] = *p
		for _, t := range p.Tracks {
			if t == nil {
				continue
			}
			rt, ok := r.tracks[t.SID]
			if !ok {
				rt = RemoteTrack{ParticipantSID: p.SID, ExpectedAt: now}
			}
			rt.Info, rt.Muted = *t, t.Muted
			tracks[t.SID] = rt
		}
	}
	r.participants, r.tracks = participants, tracks
	r.log(m)
}

// apply updates the view with one event and logs it.
func (r *roomState) apply(m *signaling.Message, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch m.Type {
	case signaling.TypeParticipantJoined:
		if m.Participant != nil {
			r.participants[m.Participant.SID] = *m.Participant
		}
	case signaling.TypeParticipantLeft:
		delete(r.participants, m.ParticipantSID)
		for sid, t := range r.tracks {
			if t.ParticipantSID == m.ParticipantSID {
				delete(r.tracks, sid)
			}
		}
	case signaling.TypeTrackPublished:
		if m.Track != nil {
			r.tracks[m.Track.SID] = RemoteTrack{ParticipantSID: m.ParticipantSID, Info: *m.Track, Muted: m.Track.Muted, ExpectedAt: now}
		}
	case signaling.TypeTrackUnpublished:
		delete(r.tracks, m.TrackSID)
	case signaling.TypeTrackMuted:
		if t, ok := r.tracks[m.TrackSID]; ok && m.Muted != nil {
			t.Muted = *m.Muted
			r.tracks[m.TrackSID] = t
		}
	case signaling.TypeSubscriptionPaused:
		if t, ok := r.tracks[m.TrackSID]; ok && m.Paused != nil {
			t.Paused = *m.Paused
			r.tracks[m.TrackSID] = t
		}
	}
	r.log(m)
}

func (r *roomState) log(m *signaling.Message) {
	r.events = append(r.events, *m)
	if len(r.events) > maxEvents {
		cut := len(r.events) - maxEvents
		r.events = slices.Delete(r.events, 0, cut)
		r.dropped += cut
	}
}

// trackInfo returns what is known of a track; an unknown track is
// expected from the bot's join.
func (r *roomState) trackInfo(sid string) RemoteTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tracks[sid]
	if !ok {
		return RemoteTrack{ExpectedAt: r.joinedAt}
	}
	return t
}

func (r *roomState) remoteTracks() []RemoteTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Collect(maps.Values(r.tracks))
	slices.SortFunc(out, func(a, b RemoteTrack) int { return strings.Compare(a.Info.SID, b.Info.SID) })
	return out
}

func (r *roomState) participantList() []signaling.ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Collect(maps.Values(r.participants))
	slices.SortFunc(out, func(a, b signaling.ParticipantInfo) int { return strings.Compare(a.SID, b.SID) })
	return out
}

// findEvent returns the first logged event matching pred.
func (r *roomState) findEvent(pred func(*signaling.Message) bool) (*signaling.Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.events {
		if pred(&r.events[i]) {
			m := r.events[i]
			return &m, true
		}
	}
	return nil, false
}

func (r *roomState) eventLog() []signaling.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}
