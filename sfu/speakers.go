package sfu

import (
	"slices"
	"time"

	"github.com/hibiki-sfu/hibiki/bwe"
	"github.com/pion/interceptor"
)

// speakerTick is how often the room's dominant speaker is re-evaluated.
// The detector's decision does not depend on the period; this only bounds
// how late an event can be.
const speakerTick = 100 * time.Millisecond

// speakerEventGap rate-limits activeSpeakers events that only change the
// ranked list; a new dominant speaker is announced at once.
const speakerEventGap = 500 * time.Millisecond

// speakers runs dominant-speaker detection for one room from the RFC 6464
// levels the publish connections' interceptors report.
type speakers struct {
	room *Room
	det  *bwe.SpeakerDetector
	done chan struct{}

	// Touched only by run.
	dominant string
	listed   []string
	sentAt   time.Time
	buf      []bwe.SpeakerLevel
}

func newSpeakers(r *Room) (*speakers, error) {
	det, err := bwe.NewSpeakerDetector()
	if err != nil {
		return nil, err
	}
	return &speakers{room: r, det: det, done: make(chan struct{})}, nil
}

// interceptor returns the audio-level interceptor for p's publish
// connection; every level it reads is attributed to p.
func (s *speakers) interceptor(p *Participant) (interceptor.Factory, error) {
	s.det.AddSpeaker(p.sid)
	sink := bwe.LevelSinkFunc(func(_ uint32, level uint8, voice bool, now time.Time) {
		s.det.Observe(p.sid, level, voice, now)
	})
	f, err := bwe.NewAudioLevelInterceptorFactory(bwe.WithLevelSink(sink))
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (s *speakers) remove(p *Participant) { s.det.RemoveSpeaker(p.sid) }

// Dominant returns the room's current dominant speaker SID ("" if none).
func (r *Room) Dominant() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dominant
}

// ActiveSpeakers returns the last speakers event the room sent.
func (r *Room) ActiveSpeakers() ActiveSpeakers {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastSpeakers
}

func (s *speakers) run() {
	tick := time.NewTicker(speakerTick)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.room.sfu.ctx.Done():
			return
		case now := <-tick.C:
			s.tick(now)
		}
	}
}

func (s *speakers) tick(now time.Time) {
	dominant, changed := s.det.Tick(now)
	s.buf = s.det.AppendSpeakers(s.buf[:0], now)
	ids := make([]string, 0, len(s.buf))
	for _, l := range s.buf {
		ids = append(ids, l.ID)
	}
	listChanged := !slices.Equal(ids, s.listed)
	if !changed && !(listChanged && now.Sub(s.sentAt) >= speakerEventGap) {
		return
	}
	s.dominant, s.listed, s.sentAt = dominant, ids, now
	ev := ActiveSpeakers{Dominant: dominant, Speakers: make([]SpeakerLevel, 0, len(s.buf))}
	for _, l := range s.buf {
		ev.Speakers = append(ev.Speakers, SpeakerLevel{SID: l.ID, Level: l.Level})
	}
	s.room.mu.Lock()
	s.room.dominant = dominant
	s.room.lastSpeakers = ev
	ps := append([]*Participant(nil), s.room.order...)
	s.room.mu.Unlock()
	for _, p := range ps {
		p.notify(ev)
	}
}

func (s *speakers) stop() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}
