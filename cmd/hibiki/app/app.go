package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiki-sfu/hibiki/admin"
	"github.com/hibiki-sfu/hibiki/cascade"
	"github.com/hibiki-sfu/hibiki/cluster"
	"github.com/hibiki-sfu/hibiki/metrics"
	"github.com/hibiki-sfu/hibiki/relay"
	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/hibiki-sfu/hibiki/whip"
	"github.com/pion/webrtc/v4"
)

// callTokenTTL is the validity of the tokens minted for an accepted invite:
// long enough to join and to rejoin after a dropped connection.
const callTokenTTL = time.Hour

// App is a running hibiki server: SFU, signaling and HTTP routes.
type App struct {
	cfg    Config
	logger *slog.Logger
	sfu    *sfu.SFU
	sig    *signaling.Server
	turn   *relay.Server // nil unless the embedded TURN server runs
	doors  *whip.Handler
	met    *metrics.Metrics
	cl     *cluster.Cluster     // nil on a single node
	casc   *cascade.Coordinator // nil unless rooms span nodes
	// policies stores room policies in the cluster (a no-op on one node).
	policies *roomPolicies
	keys     signaling.KeySet
	mux      *http.ServeMux
	http     *http.Server
	tls      *tls.Config // nil: plain HTTP

	// life ends with Close; it bounds the drain's goroutine, counted in wg.
	life     context.Context
	stopLife context.CancelFunc
	wg       sync.WaitGroup
	drain    drainer
	draining atomic.Bool
}

// New builds a server from cfg. static, when non-nil, is served at "/"
// (the conference page).
func New(cfg Config, static fs.FS, logger *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	rtc := sfu.RTCConfig{
		IPs:        cfg.RTC.IPs,
		UDPPort:    cfg.RTC.UDPPort,
		UDPPortMin: cfg.RTC.UDPPortMin,
		UDPPortMax: cfg.RTC.UDPPortMax,
		PublicIPs:  cfg.RTC.PublicIPs,
		Net:        cfg.RTC.Net,
		TCPPort:    cfg.RTC.TCPPort,
		RelayOnly:  cfg.RTC.RelayOnly,
	}
	if cfg.TURN.Enabled() && !hasTURNServer(cfg.RTC.ICEServers) {
		// Only our own relay can carry relay-only media: pin it by address.
		rtc.RelayIPs = cfg.TURN.relayIPs(cfg.RTC.IPs)
	}
	turnSrv, iceServersFor, err := startTURN(&cfg, logger)
	if err != nil {
		return nil, err
	}
	// The observer is set before the SFU exists; the coordinator after.
	var casc atomic.Pointer[cascade.Coordinator]
	policies := &roomPolicies{log: logger}
	s, err := sfu.New(rtc,
		sfu.WithPolicySource(policies.source),
		sfu.WithRoomObserver(func(room string) {
			if c := casc.Load(); c != nil {
				c.Changed(room)
			}
		}),
		sfu.WithRemoteData(func(m sfu.RemoteData) {
			if c := casc.Load(); c != nil {
				c.SendData(m)
			}
		}),
		sfu.WithLogger(logger),
		sfu.WithEmptyRoomGrace(cfg.Room.EmptyGrace),
		sfu.WithMaxParticipants(cfg.Room.MaxParticipants),
		sfu.WithMaxTracks(cfg.Room.MaxTracks),
		sfu.WithBandwidthStatsInterval(cfg.BWE.StatsInterval),
		sfu.WithBandwidthEstimation(cfg.BWE.Enabled),
		sfu.WithP2P(cfg.Room.P2P),
		sfu.WithMaxRooms(cfg.Limits.MaxRooms),
		sfu.WithData(sfu.DataConfig{
			Disabled:            cfg.Data.Disabled,
			MaxMessageSize:      cfg.Data.MaxMessageSize,
			ReceiverQueue:       cfg.Data.ReceiverQueue,
			SlowReceiverTimeout: cfg.Data.SlowReceiverTimeout,
			BytesPerSecond:      cfg.Limits.DataBytesPerSecond,
		}),
	)
	if err != nil {
		if turnSrv != nil {
			_ = turnSrv.Close()
		}
		return nil, fmt.Errorf("start sfu: %w", err)
	}
	keys := signaling.KeySet(cfg.Keys)
	var verifier signaling.Verifier = keys
	if cfg.Signaling.TokenAudience != "" {
		verifier = signaling.AudienceVerifier{Keys: keys, Audience: cfg.Signaling.TokenAudience}
	}
	signKey, signSecret := cfg.SigningKey()
	lobbyCfg := signaling.LobbyConfig{
		Room:          cfg.Lobby.Room,
		InviteTimeout: cfg.Lobby.InviteTimeout,
		Mint: func(room, identity, name string, g signaling.Grants) (string, error) {
			return signaling.NewAudienceToken(signKey, signSecret, cfg.Signaling.TokenAudience, room, identity, name, g, callTokenTTL)
		},
	}
	a := &App{cfg: cfg, logger: logger, sfu: s, turn: turnSrv, keys: keys, mux: http.NewServeMux()}
	a.drain.done = make(chan struct{})
	a.life, a.stopLife = context.WithCancel(context.Background())
	var locateDoor func(context.Context, string) (string, error)
	if cfg.Clustered() {
		locateDoor = a.locateDoor // a.cl is set below, before anything is served
	}
	a.doors = whip.New(s, whip.Config{
		Verifier:      verifier,
		StreamKeys:    cfg.WHIP.StreamKeys,
		ICEServersFor: whipICEServers(iceServersFor),
		Logger:        logger,
		OnJoin:        func(door string, d time.Duration) { a.met.ObserveJoin(door, d) },
		OnError:       func(door string, status int) { a.met.DoorError(door, status) },
		Locate:        locateDoor,
	})
	if a.met, err = metrics.New(s, metrics.Options{Sessions: a.doors.Sessions}); err != nil {
		_ = a.closeMedia()
		return nil, err
	}
	if a.cl, err = newCluster(&cfg, s, logger); err != nil {
		_ = a.closeMedia()
		return nil, err
	}
	if a.cl != nil {
		policies.cl.Store(a.cl)
	}
	a.policies = policies
	if a.cl != nil && cfg.Node.SpanRooms {
		a.casc = newCascade(&cfg, s, a.cl, logger)
		casc.Store(a.casc)
	}
	var locate func(context.Context, string) (string, error)
	if a.cl != nil {
		locate = a.locate
		lobbyCfg.Link = a.cl.Lobby() // presence and invites across nodes
	}
	a.sig = signaling.NewServer(s, signaling.Config{
		Verifier:       verifier,
		MaxMessageSize: cfg.Signaling.MaxMessageSize,
		PingInterval:   cfg.Signaling.PingInterval,
		PongTimeout:    cfg.Signaling.PongTimeout,
		ICEServersFor:  iceServersFor,
		ResumeWindow:   cfg.Signaling.ResumeWindow,
		AllowedOrigins: cfg.Signaling.AllowedOrigins,
		Limits: signaling.Limits{
			JoinsPerIPPerMinute: cfg.Limits.JoinsPerIPPerMinute,
			MessagesPerSecond:   cfg.Limits.MessagesPerSecond,
			MessageBurst:        cfg.Limits.MessageBurst,
		},
		Logger:  logger,
		OnError: a.met.SignalingError,
		OnJoin:  func(d time.Duration) { a.met.ObserveJoin("ws", d) },
		Lobby:   lobbyCfg,
		Locate:  locate,
	})
	hosts := append([]string{hostOf(cfg.Listen)}, cfg.RTC.IPs...)
	if a.tls, err = cfg.TLS.serverTLS(hosts); err != nil {
		a.doors.Close()
		a.sig.Close()
		_ = a.closeMedia()
		return nil, err
	}
	a.routes(static)
	a.http = &http.Server{Handler: a.mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: a.tls}
	if a.cl != nil {
		a.cl.Start()
		a.cl.Lobby().Start(a.sig.LobbyRemote())
		a.policies.follow(s)
	}
	if a.casc != nil {
		a.casc.Start()
	}
	return a, nil
}

func (a *App) routes(static fs.FS) {
	a.mux.Handle("/ws", a.sig)
	a.mux.Handle("/lp", a.sig.LongPoll())
	a.mux.Handle("/whip/", a.doors)
	a.mux.Handle("/whep/", a.doors)
	a.mux.Handle("GET /metrics", a.met.Handler())
	if a.casc != nil {
		a.mux.Handle(cascade.Path, a.casc)
	}
	if a.cfg.Admin.Key != "" {
		a.mux.Handle("/admin/", admin.New(a.sfu, a.cfg.Admin.Key, a.logger, admin.WithDrain(a.StartDrain), admin.WithPolicyStore(a.policies.store)))
	}
	a.mux.HandleFunc("GET /healthz", a.health)
	if a.cfg.Dev {
		a.mux.HandleFunc("GET /dev/token", a.devToken)
	}
	if static != nil {
		a.mux.Handle("/", http.FileServerFS(static))
	}
}

// devToken mints a token for the demo page. It exists only in development
// mode: anyone who can reach it can join any room.
func (a *App) devToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	room, identity := q.Get("room"), q.Get("identity")
	if room == "" || identity == "" || len(room) > 128 || len(identity) > 128 || len(q.Get("name")) > 128 {
		http.Error(w, "room and identity are required (at most 128 bytes each)", http.StatusBadRequest)
		return
	}
	key, secret := a.cfg.SigningKey()
	tok, err := signaling.NewAudienceToken(key, secret, a.cfg.Signaling.TokenAudience, room, identity, q.Get("name"), signaling.AllGrants(), 6*time.Hour)
	if err != nil {
		http.Error(w, "cannot mint token", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

// Handler returns the HTTP routes, for mounting under another server.
func (a *App) Handler() http.Handler { return a.mux }

// SFU returns the media core, for tests and embedding.
func (a *App) SFU() *sfu.SFU { return a.sfu }

// Doors returns the WHIP/WHEP handler.
func (a *App) Doors() *whip.Handler { return a.doors }

// Metrics returns the metrics, whose registry embedding code may extend.
func (a *App) Metrics() *metrics.Metrics { return a.met }

// TURN returns the embedded TURN server, nil when it is off.
func (a *App) TURN() *relay.Server { return a.turn }

// Signaling returns the signaling server.
func (a *App) Signaling() *signaling.Server { return a.sig }

// TLS returns the server's TLS configuration (its certificate), nil when
// it serves plain HTTP.
func (a *App) TLS() *tls.Config { return a.tls }

// Serve answers HTTP (HTTPS with HTTP/2 when TLS is configured) on ln
// until ctx ends or Close is called. When ctx ends (SIGTERM), a node of a
// cluster drains first: its participants move to other nodes and it
// deregisters (at most node.drain_timeout); then it closes.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() {
		if a.cl != nil {
			if err := a.Drain(a.life); err != nil {
				a.logger.Warn("drain before shutdown", "err", err)
			}
		}
		_ = a.Close()
	})
	defer stop()
	var err error
	if a.tls != nil {
		err = a.http.ServeTLS(ln, "", "")
	} else {
		err = a.http.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// Close stops accepting, ends every session and room, and waits for them.
func (a *App) Close() error {
	a.stopLife()
	a.wg.Wait() // a drain in progress
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.http.Shutdown(ctx)
	if a.casc != nil {
		a.casc.Close()
	}
	if a.cl != nil {
		// First, so that closing the rooms below releases no lease: a
		// stopped node is treated like a crashed one (its records expire).
		if cerr := a.cl.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	a.doors.Close()
	a.sig.Close()
	if cerr := a.closeMedia(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// hostOf is the host part of a listen address ("" for all interfaces).
func hostOf(listen string) string {
	h, _, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	return h
}

// closeMedia stops the SFU and the embedded TURN server.
func (a *App) closeMedia() error {
	err := a.sfu.Close()
	if a.turn != nil {
		if cerr := a.turn.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// whipICEServers adapts the per-join ICE servers (TURN credentials minted
// for an identity) to the WHIP Link headers.
func whipICEServers(forClaims func(*signaling.Claims) []signaling.ICEServer) func(room, identity string) []webrtc.ICEServer {
	return func(room, identity string) []webrtc.ICEServer {
		c := &signaling.Claims{Room: room}
		c.Subject = identity
		in := forClaims(c)
		out := make([]webrtc.ICEServer, 0, len(in))
		for _, s := range in {
			out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
		return out
	}
}
