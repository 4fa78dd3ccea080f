package signaling

import (
	"context"
	"log/slog"
	"net/http"
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
	// CheckOrigin decides which page origins may open a socket; nil allows
	// all (tokens are the access control).
	CheckOrigin func(r *http.Request) bool
	// Logger receives structured logs; never the tokens.
	Logger *slog.Logger
	// Lobby configures presence and 1:1 invites.
	Lobby LobbyConfig
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

	handlers map[string]handler
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
		handlers: handlers(),
		lobby:    newLobby(cfg.Lobby),
	}
	srv.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     cfg.CheckOrigin,
	}
	if srv.upgrader.CheckOrigin == nil {
		srv.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	}
	return srv
}

// ServeHTTP upgrades the request and runs the session until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader already answered with an HTTP error
	}
	sess := newSession(s, conn)
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		_ = conn.Close()
		return
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
}

// Close ends every session and waits for their goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	s.cancel()
	for sess := range s.conns {
		sess.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.lobby.close()
}

// Sessions returns the number of open sockets.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
