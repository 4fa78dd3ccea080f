package sfu

import (
	"errors"
	"log/slog"
	"sync"
	"time"
)

var errRoomClosing = errors.New("sfu: room closing")

// Room is the unit of state: its participants and their published tracks.
// Lock order: Room.mu before Participant.mu; events are handed to notifiers
// (which never block) and pion calls are made outside the room lock.
type Room struct {
	sfu    *SFU
	name   string
	logger *slog.Logger

	mu           sync.Mutex
	participants map[string]*Participant // by SID
	order        []*Participant          // join order, for stable listings
	closeTimer   *time.Timer
	closed       bool
	relayOnly    bool
	dominant     string
	lastSpeakers ActiveSpeakers
	speakers     *speakers

	p2p      p2pState
	counters Counters // what the SFU forwarded to this room's subscribers
}

func newRoom(s *SFU, name string) (*Room, error) {
	r := &Room{
		sfu:          s,
		name:         name,
		logger:       s.logger.With("room", name),
		participants: make(map[string]*Participant),
		p2p:          p2pState{plan: newP2PPlanner()},
	}
	sp, err := newSpeakers(r)
	if err != nil {
		return nil, err
	}
	r.speakers = sp
	s.goroutine(sp.run)
	return r, nil
}

// Name returns the room name.
func (r *Room) Name() string { return r.name }

// Counters returns what the SFU forwarded in this room (PacketsOut,
// BytesOut): a pair connected directly leaves them still.
func (r *Room) Counters() *Counters { return &r.counters }

// Participants returns the current participants in join order.
func (r *Room) Participants() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Participant(nil), r.order...)
}

// Participant returns the participant with that SID, or nil.
func (r *Room) Participant(sid string) *Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.participants[sid]
}

// join adds a participant. prepare, when non-nil, runs on the new
// participant before it enters the room (a WHIP offer is answered there), so
// a refused request is never seen by the others.
func (r *Room) join(req JoinRequest, n Notifier, prepare func(*Participant) error) (*Participant, []ParticipantInfo, error) {
	p, err := newParticipant(r, req, n)
	if err != nil {
		return nil, nil, err
	}
	if prepare != nil {
		if err := prepare(p); err != nil {
			p.closePeers()
			r.armCloseIfEmpty() // the request may have created the room
			return nil, nil, err
		}
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		p.closePeers()
		return nil, nil, errRoomClosing
	}
	var replaced *Participant
	for _, q := range r.order {
		if q.identity == req.Identity && q.origin == "" {
			replaced = q
		}
	}
	max := r.sfu.opts.maxParticipants
	if max > 0 && len(r.order) >= max && replaced == nil {
		r.mu.Unlock()
		p.closePeers()
		r.sfu.opts.stats.RoomFullRefused.Add(1)
		return nil, nil, ErrRoomFull
	}
	if r.closeTimer != nil {
		r.closeTimer.Stop()
		r.closeTimer = nil
	}
	r.mu.Unlock()
	if replaced != nil {
		// One identity is one seat: the newest connection wins, as when a
		// user reloads the page before the old socket timed out.
		replaced.notify(Removed{Reason: "the same identity joined again"})
		replaced.Leave()
	}

	r.mu.Lock()
	r.participants[p.sid] = p
	r.order = append(r.order, p)
	others := make([]*Participant, 0, len(r.order)-1)
	for _, q := range r.order {
		if q != p {
			others = append(others, q)
		}
	}
	r.mu.Unlock()

	info := p.Info()
	infos := make([]ParticipantInfo, 0, len(others))
	var tracks []*PublishedTrack
	for _, q := range others {
		q.notify(ParticipantJoined{Participant: info})
		infos = append(infos, q.Info())
		tracks = append(tracks, q.announcedTracks()...)
	}
	if p.data != nil {
		// The data channels need an offer even in a room without tracks.
		p.neg.schedule()
	}
	if p.autoSubscribe && p.grants.CanSubscribe {
		for _, t := range tracks {
			if err := p.subscribe(t); err != nil {
				p.logger.Warn("auto-subscribe failed", "track", t.sid, "err", err)
			}
		}
	}
	p.logger.Info("participant joined", "identity", p.identity)
	r.changed()
	// Like the first subscribe offer, a p2p start must reach the newcomer
	// after its joined reply, which the caller queues when this returns.
	time.AfterFunc(negotiationDelay, r.evaluateP2P)
	return p, infos, nil
}

// leave removes p and everything it published. It is idempotent.
func (r *Room) leave(p *Participant) {
	r.mu.Lock()
	if _, ok := r.participants[p.sid]; !ok {
		r.mu.Unlock()
		return
	}
	delete(r.participants, p.sid)
	for i, q := range r.order {
		if q == p {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	others := append([]*Participant(nil), r.order...)
	// Remote participants do not keep a room open: they are here for the
	// local ones.
	if r.localCountLocked() == 0 && !r.closed && r.closeTimer == nil {
		grace := r.sfu.opts.emptyRoomGrace
		r.closeTimer = time.AfterFunc(grace, r.closeIfEmpty)
	}
	r.mu.Unlock()
	if p.origin == "" {
		r.changed()
	}

	r.speakers.remove(p)
	for _, q := range others {
		q.notify(ParticipantLeft{SID: p.sid})
	}
	r.evaluateP2P()
	p.logger.Info("participant left")
}

// armCloseIfEmpty starts the empty-room timer of a room nobody is in.
func (r *Room) armCloseIfEmpty() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.localCountLocked() == 0 && !r.closed && r.closeTimer == nil {
		r.closeTimer = time.AfterFunc(r.sfu.opts.emptyRoomGrace, r.closeIfEmpty)
	}
}

func (r *Room) closeIfEmpty() {
	r.mu.Lock()
	r.closeTimer = nil
	if r.localCountLocked() > 0 || r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	remote := append([]*Participant(nil), r.order...)
	r.mu.Unlock()
	for _, p := range remote {
		p.Leave()
	}
	r.speakers.stop()
	r.stopP2P()
	r.sfu.removeRoom(r)
	r.changed()
}

// Close removes every participant and forgets the room.
func (r *Room) Close(reason string) {
	r.mu.Lock()
	r.closed = true
	if r.closeTimer != nil {
		r.closeTimer.Stop()
	}
	ps := append([]*Participant(nil), r.order...)
	r.mu.Unlock()
	for _, p := range ps {
		p.notify(Removed{Reason: reason})
		p.Leave()
	}
	r.speakers.stop()
	r.stopP2P()
	r.sfu.removeRoom(r)
	r.changed()
}

// changed tells the room observer (WithRoomObserver) that what this node
// serves of the room changed.
func (r *Room) changed() {
	if f := r.sfu.opts.observer; f != nil {
		f(r.name)
	}
}

// others returns every participant except p.
func (r *Room) others(p *Participant) []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Participant, 0, len(r.order))
	for _, q := range r.order {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

// trackPublished announces t to the room and subscribes everyone who
// subscribes automatically.
func (r *Room) trackPublished(pub *Participant, t *PublishedTrack) {
	if pub.origin == "" {
		r.changed()
	}
	info := t.Info()
	for _, q := range r.others(pub) {
		q.notify(TrackPublished{ParticipantSID: pub.sid, Track: info})
		if q.autoSubscribe && q.grants.CanSubscribe {
			if err := q.subscribe(t); err != nil && !errors.Is(err, ErrAlreadySubscribed) {
				q.logger.Warn("auto-subscribe failed", "track", t.sid, "err", err)
			}
		}
	}
}

// trackUnpublished tells the room t is gone; subscriptions were already
// closed by the track.
func (r *Room) trackUnpublished(pub *Participant, t *PublishedTrack) {
	if pub.origin == "" {
		r.changed()
	}
	for _, q := range r.others(pub) {
		q.notify(TrackUnpublished{ParticipantSID: pub.sid, TrackSID: t.sid})
	}
}

// trackMuted tells the room about a mute change.
func (r *Room) trackMuted(pub *Participant, t *PublishedTrack, muted bool) {
	if pub.origin == "" {
		r.changed()
	}
	for _, q := range r.others(pub) {
		q.notify(TrackMuted{ParticipantSID: pub.sid, TrackSID: t.sid, Muted: muted})
	}
}

// findTrack looks a published track up by SID across the room.
func (r *Room) findTrack(sid string) *PublishedTrack {
	r.mu.Lock()
	ps := append([]*Participant(nil), r.order...)
	r.mu.Unlock()
	for _, p := range ps {
		if t := p.publishedTrack(sid); t != nil {
			return t
		}
	}
	return nil
}
