package sfu

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiki-sfu/hibiki/bwe"
)

// SFU owns the rooms of one node. It is safe for concurrent use; every room
// and participant it creates ends when Close is called.
type SFU struct {
	opts      options
	logger    *slog.Logger
	transport *transport
	relayOnly bool // every room is relay-only
	ctx       context.Context
	cancel    context.CancelFunc

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool
	wg     sync.WaitGroup
}

// Option configures an SFU.
type Option func(*options)

type options struct {
	logger          *slog.Logger
	emptyRoomGrace  time.Duration
	maxParticipants int
	maxTracks       int
	maxRooms        int
	stats           *Counters
	statsInterval   time.Duration
	estimator       []bwe.EstimatorOption
	noBWE           bool
	p2p             bool
	data            DataConfig
	observer        func(room string)
	remoteData      func(RemoteData)
	policySource    func(room string) Policy
}

// WithLogger sets the logger; component ids are attached with slog.With.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithEmptyRoomGrace keeps an empty room (and its id) alive for d, so a
// participant reloading its page finds the same room state.
func WithEmptyRoomGrace(d time.Duration) Option { return func(o *options) { o.emptyRoomGrace = d } }

// WithMaxParticipants bounds participants per room (0 = unlimited).
func WithMaxParticipants(n int) Option { return func(o *options) { o.maxParticipants = n } }

// WithMaxTracks bounds published tracks per participant (0 = unlimited).
func WithMaxTracks(n int) Option { return func(o *options) { o.maxTracks = n } }

// WithMaxRooms bounds the rooms this node holds at once (0 = unlimited): a
// join that would create one more is refused with ErrTooManyRooms.
func WithMaxRooms(n int) Option { return func(o *options) { o.maxRooms = n } }

// WithCounters makes the SFU count forwarded packets and bytes into c, which
// the metrics endpoint and benchmarks read.
func WithCounters(c *Counters) Option { return func(o *options) { o.stats = c } }

// WithBandwidthStatsInterval sets how often each subscriber receives its
// BandwidthStats event (default 2 s).
func WithBandwidthStatsInterval(d time.Duration) Option {
	return func(o *options) { o.statsInterval = d }
}

// WithBandwidthEstimation turns per-subscriber bandwidth estimation and
// allocation on or off (default on). Off, a subscriber gets the layer its
// tile asks for, with no cap, no probing and no stats event: the
// behaviour before bwe/ was wired in, kept for deployments that must rule
// it out while a problem is chased.
func WithBandwidthEstimation(on bool) Option { return func(o *options) { o.noBWE = !on } }

// WithEstimatorOptions tunes every subscriber's bandwidth estimator.
func WithEstimatorOptions(opts ...bwe.EstimatorOption) Option {
	return func(o *options) { o.estimator = append(o.estimator, opts...) }
}

// WithP2P sets whether rooms let two participants whose clients support it
// connect directly (default true); Room.SetP2P overrides it per room.
func WithP2P(on bool) Option { return func(o *options) { o.p2p = on } }

// WithRoomObserver calls f with a room's name whenever what this node serves
// of it changes: a local participant joined or left, one of their tracks
// arrived, went away or was muted, the room closed. The cascade coordinator
// tells the other nodes of a spanning room from it. f must not block.
func WithRoomObserver(f func(room string)) Option { return func(o *options) { o.observer = f } }

// WithPolicySource gives every room this node creates the policy f returns
// for it: in a cluster, the policy an operator stored for the room, so it
// survives the room moving to another node. f is called before the room
// exists, without SFU locks held.
func WithPolicySource(f func(room string) Policy) Option {
	return func(o *options) { o.policySource = f }
}

// New starts an SFU with the given media network configuration.
func New(rtc RTCConfig, opts ...Option) (*SFU, error) {
	o := options{
		logger:         slog.Default(),
		emptyRoomGrace: 10 * time.Second,
		maxTracks:      16,
		statsInterval:  2 * time.Second,
		p2p:            true,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.stats == nil {
		o.stats = &Counters{}
	}
	o.data = o.data.withDefaults()
	t, err := newTransport(rtc, o.logger)
	if err != nil {
		return nil, err
	}
	t.settings.SetSCTPMaxMessageSize(o.data.sctpMaxMessage())
	ctx, cancel := context.WithCancel(context.Background())
	return &SFU{
		opts:      o,
		logger:    o.logger,
		transport: t,
		relayOnly: rtc.RelayOnly,
		ctx:       ctx,
		cancel:    cancel,
		rooms:     make(map[string]*Room),
	}, nil
}

// Counters returns the SFU's packet counters.
func (s *SFU) Counters() *Counters { return s.opts.stats }

// room returns the named room, creating it on first use with the policy
// the policy source (WithPolicySource) has for it.
func (s *SFU) room(name string) (*Room, error) {
	var policy Policy
	if f := s.opts.policySource; f != nil && s.Room(name) == nil {
		policy = f(name) // may ask Redis: outside the lock
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r, ok := s.rooms[name]
	if !ok {
		if s.opts.maxRooms > 0 && len(s.rooms) >= s.opts.maxRooms {
			s.opts.stats.RoomsRefused.Add(1)
			return nil, ErrTooManyRooms
		}
		var err error
		if r, err = newRoom(s, name); err != nil {
			return nil, err
		}
		r.relayOnly = policy.RelayOnly // nobody is in it yet
		s.rooms[name] = r
		s.logger.Info("room created", "room", name)
	}
	return r, nil
}

// CreateRoom returns the named room, creating it empty if needed, so that
// its settings (SetRelayOnly) can be made before anyone joins. An empty room
// closes after the empty-room grace like any other.
func (s *SFU) CreateRoom(name string) (*Room, error) {
	r, err := s.room(name)
	if err != nil {
		return nil, err
	}
	r.armCloseIfEmpty()
	return r, nil
}

// Room returns an existing room or nil.
func (s *SFU) Room(name string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[name]
}

// Rooms lists the current rooms.
func (s *SFU) Rooms() []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		out = append(out, r)
	}
	return out
}

// removeRoom forgets r if it is still the room registered under its name.
func (s *SFU) removeRoom(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.name] == r {
		delete(s.rooms, r.name)
		s.logger.Info("room closed", "room", r.name)
	}
}

// Join adds a participant to a room (created on demand). The notifier
// receives the participant's events until it leaves. The returned list holds
// the other participants present at join time.
func (s *SFU) Join(room string, req JoinRequest, n Notifier) (*Participant, []ParticipantInfo, error) {
	return s.join(room, req, n, nil)
}

func (s *SFU) join(room string, req JoinRequest, n Notifier, prepare func(*Participant) error) (*Participant, []ParticipantInfo, error) {
	for {
		r, err := s.room(room)
		if err != nil {
			return nil, nil, err
		}
		p, others, err := r.join(req, n, prepare)
		if err == errRoomClosing {
			continue // lost a race with the room's close timer; a new room is made
		}
		if err != nil {
			// A refused join must not leave a room it created behind.
			r.armCloseIfEmpty()
			return nil, nil, fmt.Errorf("join %s: %w", room, err)
		}
		return p, others, nil
	}
}

// Close ends every room and waits for the media goroutines.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.Close("server shutting down")
	}
	s.cancel()
	s.wg.Wait()
	return s.transport.close()
}

// goroutine runs f tracked by the SFU's wait group, so Close can wait for it.
func (s *SFU) goroutine(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}
