package signaling

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hibiki-sfu/hibiki/sfu"
)

// Verifier checks a join token. KeySet is the built-in one; an embedding
// application can plug in its own (sessions, OAuth) instead.
type Verifier interface {
	Verify(token string) (*Claims, error)
}

// Config holds the signaling limits and the token check.
type Config struct {
	// Verifier checks join tokens. Required.
	Verifier Verifier
	// MaxMessageSize is the largest accepted frame; larger ones get a
	// too_large error and the socket stays open. Default 64 KiB.
	MaxMessageSize int
	// PingInterval is how often the server pings; PongTimeout is how long
	// a silent socket lives. Defaults 5 s and 15 s.
	PingInterval, PongTimeout time.Duration
	// ICEServers are sent to clients in the join answer.
	ICEServers []ICEServer
	// ICEServersFor, when set, replaces ICEServers: it is called on every
	// join (and resume) so that TURN credentials are minted per client and
	// expire.
	ICEServersFor func(c *Claims) []ICEServer
	// ResumeWindow is how long a participant whose socket dropped (without
	// leave or a normal close) stays in its room, waiting for a join with
	// resume. Zero removes it at once.
	ResumeWindow time.Duration
	// CheckOrigin decides which page origins may open a socket. Nil uses
	// AllowedOrigins.
	CheckOrigin func(r *http.Request) bool
	// AllowedOrigins lists the page origins ("https://app.example.com")
	// whose pages may open a socket; "*" allows any. A request without an
	// Origin header (not a browser) and a page served by this server (same
	// host) are always allowed. Empty allows any origin: the join token is
	// then the only access control.
	AllowedOrigins []string
	// Limits bound joins per address and messages per session.
	Limits Limits
	// Logger receives structured logs; never the tokens.
	Logger *slog.Logger
	// OnError, when set, is called with the code of every error message
	// sent to a client (metrics count them). It must not block.
	OnError func(code string)
	// OnJoin, when set, is called with the time a successful join took,
	// from the join message to the participant being in the room.
	OnJoin func(d time.Duration)
	// Lobby configures presence and 1:1 invites.
	Lobby LobbyConfig
	// Locate, when set, is asked on every fresh join where the room is
	// served: "" means here; a URL makes the server answer redirect and
	// close the socket. An error wrapping ErrUnavailable refuses the join
	// with unavailable. Nil: every room is served here (one node).
	Locate func(ctx context.Context, room string) (url string, err error)
}

// Server is the WebSocket signaling endpoint. It is an http.Handler so it
// can be mounted on any mux.
type Server struct {
	sfu      *sfu.SFU
	cfg      Config
	upgrader websocket.Upgrader
	logger   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[*session]struct{}
	// attached holds every participant a resume can name, by session id.
	attached map[string]*attachment
	// polls holds the long-poll links by their session id, until they end
	// and their last messages were fetched (or lpLinger passed).
	polls map[string]*lpTransport

	handlers map[string]handler
	joins    *ipLimiter
	refusals Refusals
	lobby    *lobby
}

// NewServer returns a signaling server in front of s.
func NewServer(s *sfu.SFU, cfg Config) *Server {
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = 64 << 10
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 5 * time.Second
	}
	if cfg.PongTimeout <= 0 {
		cfg.PongTimeout = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{
		sfu:      s,
		cfg:      cfg,
		logger:   cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[*session]struct{}),
		attached: make(map[string]*attachment),
		polls:    make(map[string]*lpTransport),
		handlers: handlers(),
		joins:    newIPLimiter(cfg.Limits.JoinsPerIPPerMinute),
		lobby:    newLobby(cfg.Lobby, cfg.Logger),
	}
	srv.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     cfg.CheckOrigin,
	}
	if srv.upgrader.CheckOrigin == nil {
		srv.upgrader.CheckOrigin = srv.checkOrigin
	}
	return srv
}

// checkOrigin applies AllowedOrigins; a refusal is logged and counted (the
// upgrader answers 403).
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.cfg.AllowedOrigins) == 0 {
		return true
	}
	if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	s.refusals.Origin.Add(1)
	s.logger.Warn("websocket origin refused", "origin", origin, "remote", r.RemoteAddr)
	return false
}

// Refusals returns the counters of refused requests.
func (s *Server) Refusals() *Refusals { return &s.refusals }

// ServeHTTP serves the WebSocket endpoint: an HTTP/1.1 upgrade, or an
// HTTP/2 extended CONNECT (RFC 8441) when the server enables it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isExtendedConnect(r) {
		s.serveH2(w, r)
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader already answered with an HTTP error
	}
	s.start(newWSTransport(conn, "websocket", s.cfg.MaxMessageSize, s.cfg.PongTimeout))
}

// start runs a session over t on its own goroutine. It returns nil (and
// closes t) when the server is closing.
func (s *Server) start(t transport) *session {
	sess := newSession(s, t)
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		t.close()
		return nil
	}
	s.conns[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		sess.run(s.ctx)
		s.mu.Lock()
		delete(s.conns, sess)
		s.mu.Unlock()
	}()
	return sess
}

// Close ends every session, removes the participants waiting for a
// resume, and waits for their goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	s.cancel()
	for sess := range s.conns {
		sess.close()
	}
	waiting := make([]*attachment, 0, len(s.attached))
	for _, a := range s.attached {
		waiting = append(waiting, a)
	}
	clear(s.attached)
	clear(s.polls)
	s.mu.Unlock()
	s.wg.Wait()
	for _, a := range waiting {
		a.mu.Lock()
		a.stopExpiryLocked()
		p := a.p
		a.mu.Unlock()
		if p != nil {
			p.Leave()
		}
		a.ended()
	}
	s.lobby.close()
}

// register makes a resumable.
func (s *Server) register(a *attachment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() == nil {
		s.attached[a.id] = a
	}
}

// lookup finds the participant a resume names.
func (s *Server) lookup(id string) *attachment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attached[id]
}

// forget makes a no longer resumable; it reports whether it was.
func (s *Server) forget(a *attachment) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attached[a.id] != a {
		return false
	}
	delete(s.attached, a.id)
	return true
}

// claim forgets a for its expiry timer and, unless the server is closing,
// counts the timer's work in the wait group Close waits on.
func (s *Server) claim(a *attachment) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil || s.attached[a.id] != a {
		return false
	}
	delete(s.attached, a.id)
	s.wg.Add(1)
	return true
}

// Sessions returns the number of open sockets.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// registerPoll makes a long-poll link findable by its id; when the link
// ends, it stays for lpLinger so the client can fetch its last messages.
func (s *Server) registerPoll(t *lpTransport) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	s.polls[t.id] = t
	t.onClose = func() { time.AfterFunc(lpLinger, func() { s.forgetPoll(t) }) }
	return true
}

func (s *Server) lookupPoll(id string) *lpTransport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls[id]
}

func (s *Server) forgetPoll(t *lpTransport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.polls[t.id] == t {
		delete(s.polls, t.id)
	}
}
