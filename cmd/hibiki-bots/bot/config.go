// Package bot is a scriptable hibiki client made of pion PeerConnections. It
// speaks the signaling protocol of docs/protocol.md, publishes the embedded
// clips of cmd/hibiki-bots/media (Opus with RFC 6464 levels, VP8 with
// optional three-layer simulcast) and measures what it receives: packets,
// loss, jitter, frame completeness, keyframes, resolution and freezes.
//
// The load-test CLI (cmd/hibiki-bots) and the end-to-end tests (e2e/) both
// drive it, so everything a test needs to await is an event it can wait on
// (WaitTracks, WaitMessage, WaitStats), never a sleep.
package bot

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("bot: invalid config")

// Config describes one bot. The zero value of every optional field is a
// sensible default.
type Config struct {
	// URL is the signaling WebSocket, e.g. ws://127.0.0.1:7880/ws.
	URL string
	// FallbackURLs are other nodes of the same cluster. When the node the
	// bot is on is gone (its socket dropped and a resume cannot reach it,
	// or it no longer knows the session), the bot joins afresh through
	// these (and URL) instead of ending: new peer connections, republished
	// tracks, a new subscription (docs/cluster.md, "Failures"). A redirect
	// event from a draining node is followed with or without them.
	FallbackURLs []string
	// Token is the join token. When empty, one is minted for Room and
	// Identity with the development key pair.
	Token string
	// Room is used only to mint a token when Token is empty.
	Room string
	// Identity names the bot in logs and in its track ids (and in a minted
	// token).
	Identity string

	// Publish sends a microphone (Opus) and a camera (VP8) track; NoAudio
	// and NoVideo drop one of them.
	Publish, NoAudio, NoVideo bool
	// Simulcast sends the camera as three layers (rids q, h, f at 320x180,
	// 640x360 and 1280x720), each from its own clip; frames of all layers go
	// out together on each tick. Without it the camera is the 640x360 clip.
	Simulcast bool
	// Subscribe asks the server to subscribe the bot to every track in the
	// room (autoSubscribe). Without it the bot receives only what it asks for
	// with Subscribe requests.
	Subscribe bool
	// Speaking overrides the audio clip's own speech/silence schedule: while
	// it returns true the bot loops the clip's speech section with the V bit
	// set, otherwise its silence section. Nil plays the clip as it is.
	Speaking func(elapsed time.Duration) bool
	// VideoCodec is the camera codec's MIME type; only VP8 is supported.
	VideoCodec string

	// Logger receives the bot's logs, already tagged with its identity.
	Logger *slog.Logger
	// AllowIPs admits these networks for ICE besides loopback (tests running
	// in network namespaces use 10.77.0.0/24). Loopback is always admitted.
	AllowIPs []netip.Prefix
	// ResumeWindow is how long the bot keeps trying to resume its session
	// (join with resume on a new socket) after the signaling socket drops.
	// Zero means 30 s (the server's default window); negative disables
	// resume: a lost socket ends the bot, or with FallbackURLs makes it
	// join afresh. It also bounds the attempts of such a fresh join.
	ResumeWindow time.Duration
	// Transport is the signaling transport: TransportWebSocket ("ws", the
	// default), TransportWebSocketH2 ("ws-h2", needs a wss:// URL) or
	// TransportLongPoll ("longpoll", at /lp next to the URL's /ws).
	Transport string
	// TLSConfig verifies a wss:// server (nil: the system roots).
	TLSConfig *tls.Config
	// LongPollClient makes the long-poll requests (nil: a client built
	// from TLSConfig and NetDialContext); tests inject failures in its
	// RoundTripper.
	LongPollClient *http.Client
	// NetDialContext, when set, opens the signaling TCP connections (tests
	// bind them to a namespace address so a link cut hits them too).
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// IgnoreRelayPolicy makes the bot disobey iceTransportPolicy "relay"
	// (tests of the server's relay-only enforcement).
	IgnoreRelayPolicy bool
	// ConfigureAPI may change pion's SettingEngine after the defaults
	// (loopback-only ICE, UDP4, no mDNS, AES-GCM SRTP first) are applied.
	ConfigureAPI func(*webrtc.SettingEngine)
	// Interceptors may add interceptors before pion's defaults, so that
	// they see outgoing packets last, as they go on the wire, and incoming
	// ones first (tests record what a bot sends and receives with one).
	Interceptors func(*interceptor.Registry)
	// Media are the parsed clips. Sharing one *media.Clips across bots
	// saves parsing and memory; nil loads them for this bot.
	Media *media.Clips
	// OnData, when set, receives every data message (on pion's goroutine;
	// it must not block long) instead of the bot storing them for
	// DataMessages: for high volumes such as file transfers.
	OnData func(DataMessage)
	// Now is the clock for statistics; nil means time.Now.
	Now func() time.Time
}

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, fmt.Errorf("%w: URL is required", ErrConfig)
	}
	if c.Identity == "" {
		return c, fmt.Errorf("%w: Identity is required", ErrConfig)
	}
	if c.VideoCodec == "" {
		c.VideoCodec = webrtc.MimeTypeVP8
	}
	if c.VideoCodec != webrtc.MimeTypeVP8 {
		return c, fmt.Errorf("%w: video codec %q is not supported (VP8 only)", ErrConfig, c.VideoCodec)
	}
	if c.Token == "" {
		if c.Room == "" {
			return c, fmt.Errorf("%w: Token or Room is required", ErrConfig)
		}
		tok, err := signaling.NewToken(signaling.DevAPIKey, signaling.DevAPISecret, c.Room, c.Identity,
			c.Identity, signaling.AllGrants(), time.Hour)
		if err != nil {
			return c, fmt.Errorf("mint token: %w", err)
		}
		c.Token = tok
	}
	switch c.Transport {
	case "":
		c.Transport = TransportWebSocket
	case TransportWebSocket, TransportLongPoll:
	case TransportWebSocketH2:
		if !strings.HasPrefix(c.URL, "wss://") && !strings.HasPrefix(c.URL, "https://") {
			return c, fmt.Errorf("%w: transport %s needs a wss:// URL", ErrConfig, c.Transport)
		}
	default:
		return c, fmt.Errorf("%w: transport %q (want %s, %s or %s)", ErrConfig, c.Transport,
			TransportWebSocket, TransportWebSocketH2, TransportLongPoll)
	}
	if c.Transport == TransportLongPoll && c.LongPollClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = c.TLSConfig
		if c.NetDialContext != nil {
			tr.DialContext = c.NetDialContext
		}
		c.LongPollClient = &http.Client{Transport: tr}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Logger = c.Logger.With("bot", c.Identity)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ResumeWindow == 0 {
		c.ResumeWindow = 30 * time.Second
	}
	if c.Media == nil {
		m, err := media.Load()
		if err != nil {
			return c, fmt.Errorf("load media: %w", err)
		}
		c.Media = m
	}
	return c, nil
}
