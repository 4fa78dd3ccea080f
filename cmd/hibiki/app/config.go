// Package app wires hibiki's packages into a server: configuration, the
// HTTP mux (signaling, health, static page) and the SFU. cmd/hibiki and the
// end-to-end tests both build servers through it.
package app

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/transport/v5"
	"gopkg.in/yaml.v3"
)

//go:embed default.yaml
var defaultYAML []byte

// Config is the whole server configuration.
type Config struct {
	Listen    string            `yaml:"listen"`
	LogLevel  string            `yaml:"log_level"`
	Dev       bool              `yaml:"dev"`
	Keys      map[string]string `yaml:"keys"`
	RTC       RTCConfig         `yaml:"rtc"`
	Signaling SignalingConfig   `yaml:"signaling"`
	Room      RoomConfig        `yaml:"room"`
	TURN      TURNConfig        `yaml:"turn"`
	TLS       TLSConfig         `yaml:"tls"`
	WHIP      WHIPConfig        `yaml:"whip"`
	Admin     AdminConfig       `yaml:"admin"`
	BWE       BWEConfig         `yaml:"bwe"`
	Data      DataConfig        `yaml:"data"`
	Lobby     LobbyConfig       `yaml:"lobby"`
	Redis     RedisConfig       `yaml:"redis"`
	Node      NodeConfig        `yaml:"node"`
	// PProf, when set, serves net/http/pprof on this address (e.g.
	// 127.0.0.1:6060), apart from the public listener. Off by default.
	PProf  string       `yaml:"pprof"`
	Limits LimitsConfig `yaml:"limits"`
	// HealthVerbose serves /healthz?verbose (rooms, participants, sessions,
	// goroutines, open files, memory, refusals) to anyone; off, it is
	// served only in development mode.
	HealthVerbose bool `yaml:"health_verbose"`

	// APIKey and APISecret, set by flag or environment, replace Keys with
	// this one pair; both must be given.
	APIKey    string `yaml:"-"`
	APISecret string `yaml:"-"`
	// NodeCPU, when set, replaces the process CPU figure a clustered node
	// reports (embedding, and tests running several nodes in one process).
	NodeCPU func() float64 `yaml:"-"`
}

// RTCConfig is the media network part of the configuration.
type RTCConfig struct {
	IPs        []string    `yaml:"ips"`
	UDPPort    int         `yaml:"udp_port"`
	UDPPortMin uint16      `yaml:"udp_port_min"`
	UDPPortMax uint16      `yaml:"udp_port_max"`
	PublicIPs  []string    `yaml:"public_ips"`
	ICEServers []ICEServer `yaml:"ice_servers"`
	// TCPPort accepts ICE-TCP (0 = off).
	TCPPort int `yaml:"tcp_port"`
	// RelayOnly makes every room relay-only: media only through TURN.
	RelayOnly bool `yaml:"relay_only"`
	// Net replaces the host network for media (tests put the server on a
	// pion vnet); it cannot come from a file.
	Net transport.Net `yaml:"-"`
}

// ICEServer is a STUN or TURN server handed to clients.
type ICEServer struct {
	URLs       []string `yaml:"urls"`
	Username   string   `yaml:"username"`
	Credential string   `yaml:"credential"`
}

// SignalingConfig holds the WebSocket limits.
type SignalingConfig struct {
	MaxMessageSize int           `yaml:"max_message_size"`
	PingInterval   time.Duration `yaml:"ping_interval"`
	PongTimeout    time.Duration `yaml:"pong_timeout"`
	// ResumeWindow keeps a participant whose socket dropped for this long,
	// waiting for a join with resume (0 = leave at once).
	ResumeWindow time.Duration `yaml:"resume_window"`
	// AllowedOrigins lists page origins allowed to open a socket ("*" any;
	// empty: any). Requests without Origin and same-host pages always pass.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TokenAudience, when set, must be in every join token's aud claim.
	TokenAudience string `yaml:"token_audience"`
}

// LimitsConfig bounds what clients can make one node do (0 = unlimited).
type LimitsConfig struct {
	MaxRooms            int     `yaml:"max_rooms"`
	JoinsPerIPPerMinute int     `yaml:"joins_per_ip_per_minute"`
	MessagesPerSecond   float64 `yaml:"messages_per_second"`
	MessageBurst        int     `yaml:"message_burst"`
	// DataBytesPerSecond bounds one participant's data-channel bytes; it
	// takes effect where data channels are forwarded (docs/limits.md).
	DataBytesPerSecond int `yaml:"data_bytes_per_second"`
}

// RoomConfig holds per-room limits.
type RoomConfig struct {
	EmptyGrace      time.Duration `yaml:"empty_grace"`
	MaxParticipants int           `yaml:"max_participants"`
	MaxTracks       int           `yaml:"max_tracks"`
	// P2P lets a room's two participants, when their clients support it,
	// send media to each other directly instead of through the SFU.
	P2P bool `yaml:"p2p"`
}

// WHIPConfig configures the WHIP/WHEP doors.
type WHIPConfig struct {
	// StreamKeys maps a room to a static bearer key a WHIP encoder may use
	// instead of a join token (OBS and ffmpeg take one fixed secret).
	StreamKeys map[string]string `yaml:"stream_keys"`
}

// AdminConfig configures the admin API, which exists only with a key.
type AdminConfig struct {
	Key string `yaml:"key"`
}

// DataConfig holds the data channel relay limits (docs/protocol.md).
type DataConfig struct {
	Disabled            bool          `yaml:"disabled"`
	MaxMessageSize      int           `yaml:"max_message_size"`
	ReceiverQueue       int           `yaml:"receiver_queue"`
	SlowReceiverTimeout time.Duration `yaml:"slow_receiver_timeout"`
}

// LobbyConfig names the presence lobby and bounds invites.
type LobbyConfig struct {
	// Room is the room claim a token needs to enter the lobby.
	Room string `yaml:"room"`
	// InviteTimeout is how long an invite rings before the caller is told.
	InviteTimeout time.Duration `yaml:"invite_timeout"`
}

// RedisConfig points at the Redis that nodes of one cluster share
// (docs/cluster.md). An empty address keeps hibiki a single node.
type RedisConfig struct {
	Address  string `yaml:"address"`
	Password string `yaml:"password"`
	DB       int    `yaml:"db"`
	// Prefix starts every key hibiki writes.
	Prefix string `yaml:"prefix"`
}

// NodeConfig names this node in a cluster.
type NodeConfig struct {
	// ID is unique in the cluster; empty = random per run.
	ID string `yaml:"id"`
	// URL is this node's public signaling URL, where other nodes redirect
	// clients (required with redis.address).
	URL string `yaml:"url"`
	// Heartbeat is how often the node writes its load and renews its room
	// leases; TTL is how long a silent node (and its leases) lives.
	Heartbeat time.Duration `yaml:"heartbeat"`
	TTL       time.Duration `yaml:"ttl"`
	// DrainTimeout bounds a drain (SIGTERM, POST /admin/drain): the node
	// waits this long for its participants to move to other nodes before
	// it closes what is left and deregisters.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// SpanRooms lets a room's participants sit on several nodes: a join
	// is served by the node it reaches, and the nodes relay the room's
	// tracks to each other (docs/cluster.md, "Rooms across nodes"). Every
	// node of the cluster must set it alike.
	SpanRooms bool `yaml:"span_rooms"`
	// RoomShare, with SpanRooms, is how many participants of one room
	// this node serves before it sends newcomers to another node (0: no
	// limit: every join is served where it arrives).
	RoomShare int `yaml:"room_share"`
}

// Clustered reports whether multi-node mode is on.
func (c *Config) Clustered() bool { return c.Redis.Address != "" }

// BWEConfig tunes bandwidth estimation and allocation.
type BWEConfig struct {
	// Enabled turns per-subscriber estimation and allocation on
	// (docs/bwe.md); off, every subscriber gets the layer its tile asks
	// for without a bandwidth cap.
	Enabled bool `yaml:"enabled"`
	// StatsInterval is the period of each subscriber's stats event.
	StatsInterval time.Duration `yaml:"stats_interval"`
}

// ErrConfig wraps every configuration problem.
var ErrConfig = errors.New("config")

// DefaultConfig returns the built-in configuration.
func DefaultConfig() Config {
	var c Config
	if err := yaml.Unmarshal(defaultYAML, &c); err != nil {
		// The embedded file is part of the binary and covered by tests.
		panic(fmt.Sprintf("embedded default config: %v", err))
	}
	return c
}

// LoadFile overlays the YAML file at path onto c.
func (c *Config) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	// yaml merges a mapping into an existing map: a file's keys must
	// replace the built-in development key, not join it.
	keys := c.Keys
	c.Keys = nil
	err = dec.Decode(c)
	if c.Keys == nil {
		c.Keys = keys
	}
	if err != nil && !errors.Is(err, io.EOF) { // io.EOF: no document, e.g. only comments
		return fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	return nil
}

// Setter applies one named override (from an environment variable or a
// flag) to the configuration.
type Setter func(c *Config, value string) error

// Overrides lists the settings that environment variables (HIBIKI_ plus the
// upper-cased name) and flags (--name) can change.
func Overrides() map[string]Setter {
	return map[string]Setter{
		"listen":    func(c *Config, v string) error { c.Listen = v; return nil },
		"log-level": func(c *Config, v string) error { c.LogLevel = v; return nil },
		"dev": func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.Dev = b
			return err
		},
		"admin-key":  func(c *Config, v string) error { c.Admin.Key = v; return nil },
		"api-key":    func(c *Config, v string) error { c.APIKey = v; return nil },
		"pprof":      func(c *Config, v string) error { c.PProf = v; return nil },
		"api-secret": func(c *Config, v string) error { c.APISecret = v; return nil },
		"public-ip":  func(c *Config, v string) error { c.RTC.PublicIPs = splitList(v); return nil },
		"rtc-ips":    func(c *Config, v string) error { c.RTC.IPs = splitList(v); return nil },
		"udp-port": func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			c.RTC.UDPPort = n
			return err
		},
		"tcp-port": func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			c.RTC.TCPPort = n
			return err
		},
		"relay-only": func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.RTC.RelayOnly = b
			return err
		},
		"p2p": func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.Room.P2P = b
			return err
		},
		"bwe": func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.BWE.Enabled = b
			return err
		},
		"dev-tls": func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.TLS.DevSelfSigned = b
			return err
		},
		"tls-cert":      func(c *Config, v string) error { c.TLS.CertFile = v; return nil },
		"tls-key":       func(c *Config, v string) error { c.TLS.KeyFile = v; return nil },
		"turn-secret":   func(c *Config, v string) error { c.TURN.Secret = v; return nil },
		"turn-domain":   func(c *Config, v string) error { c.TURN.Domain = v; return nil },
		"redis-address": func(c *Config, v string) error { c.Redis.Address = v; return nil },
		"node-id":       func(c *Config, v string) error { c.Node.ID = v; return nil },
		"node-url":      func(c *Config, v string) error { c.Node.URL = v; return nil },
		"room-share": func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			c.Node.RoomShare = n
			return err
		},
		"span-rooms": func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.Node.SpanRooms = b
			return err
		},
		"drain-timeout": func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			c.Node.DrainTimeout = d
			return err
		},
		"udp-port-range": func(c *Config, v string) error {
			lo, hi, ok := strings.Cut(v, "-")
			a, err1 := strconv.ParseUint(lo, 10, 16)
			b, err2 := strconv.ParseUint(hi, 10, 16)
			if !ok || err1 != nil || err2 != nil || a > b {
				return fmt.Errorf("want MIN-MAX, got %q", v)
			}
			c.RTC.UDPPortMin, c.RTC.UDPPortMax, c.RTC.UDPPort = uint16(a), uint16(b), 0
			return nil
		},
	}
}

// ApplyEnv applies HIBIKI_* environment variables, in the sorted order of
// their names (as flags are), so udp-port-range wins over udp-port.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	overrides := Overrides()
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		env := "HIBIKI_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v, ok := lookup(env); ok {
			if err := overrides[name](c, v); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrConfig, env, err)
			}
		}
	}
	return nil
}

// Validate checks the configuration once all overrides are applied, and
// folds a flag- or environment-given key pair into Keys.
func (c *Config) Validate() error {
	if c.APIKey != "" || c.APISecret != "" {
		if c.APIKey == "" || c.APISecret == "" {
			return fmt.Errorf("%w: api key and api secret must be given together", ErrConfig)
		}
		c.Keys = map[string]string{c.APIKey: c.APISecret}
	}
	if len(c.Keys) == 0 {
		return fmt.Errorf("%w: no API key configured", ErrConfig)
	}
	for k, s := range c.Keys {
		if s == "" {
			return fmt.Errorf("%w: api key %q has no secret", ErrConfig, k)
		}
	}
	if _, err := c.level(); err != nil {
		return err
	}
	if c.Listen == "" {
		return fmt.Errorf("%w: listen address is empty", ErrConfig)
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	for room, key := range c.WHIP.StreamKeys {
		if key == "" {
			return fmt.Errorf("%w: whip stream key for room %q is empty", ErrConfig, room)
		}
	}
	if c.Data.MaxMessageSize < 0 || c.Data.ReceiverQueue < 0 || c.Data.SlowReceiverTimeout < 0 || c.Lobby.InviteTimeout < 0 {
		return fmt.Errorf("%w: data and lobby limits must not be negative", ErrConfig)
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	return c.validateNetwork()
}

// validateCluster checks the multi-node settings, which matter only with a
// Redis address.
func (c *Config) validateCluster() error {
	if !c.Clustered() {
		return nil
	}
	if !strings.HasPrefix(c.Node.URL, "ws://") && !strings.HasPrefix(c.Node.URL, "wss://") {
		return fmt.Errorf("%w: node.url must be this node's public ws:// or wss:// signaling URL (got %q)", ErrConfig, c.Node.URL)
	}
	if c.Node.Heartbeat <= 0 || c.Node.TTL <= c.Node.Heartbeat {
		return fmt.Errorf("%w: node.heartbeat (%v) must be positive and shorter than node.ttl (%v)", ErrConfig, c.Node.Heartbeat, c.Node.TTL)
	}
	if c.Node.RoomShare < 0 {
		return fmt.Errorf("%w: node.room_share (%d) must not be negative", ErrConfig, c.Node.RoomShare)
	}
	if c.Node.DrainTimeout <= 0 {
		return fmt.Errorf("%w: node.drain_timeout (%v) must be positive", ErrConfig, c.Node.DrainTimeout)
	}
	return nil
}

// validateNetwork checks the media and TURN ports and the policies that
// depend on them.
func (c *Config) validateNetwork() error {
	ports := []struct {
		name string
		port int
	}{
		{"rtc.udp_port", c.RTC.UDPPort}, {"rtc.tcp_port", c.RTC.TCPPort},
		{"turn.udp_port", c.TURN.UDPPort}, {"turn.tcp_port", c.TURN.TCPPort}, {"turn.tls_port", c.TURN.TLSPort},
	}
	for _, p := range ports {
		if p.port < 0 || p.port > 65535 {
			return fmt.Errorf("%w: %s %d out of range", ErrConfig, p.name, p.port)
		}
	}
	lo, hi := c.RTC.UDPPortMin, c.RTC.UDPPortMax
	if (lo == 0) != (hi == 0) || lo > hi {
		return fmt.Errorf("%w: udp port range %d-%d: give both bounds, min <= max", ErrConfig, lo, hi)
	}
	if lo != 0 && c.RTC.UDPPort != 0 {
		return fmt.Errorf("%w: rtc.udp_port and a udp port range exclude each other (set udp_port to 0)", ErrConfig)
	}
	if err := distinctPorts("udp", map[string]int{"rtc.udp_port": c.RTC.UDPPort, "turn.udp_port": c.TURN.UDPPort}); err != nil {
		return err
	}
	tcp := map[string]int{"rtc.tcp_port": c.RTC.TCPPort, "turn.tcp_port": c.TURN.TCPPort, "turn.tls_port": c.TURN.TLSPort}
	if err := distinctPorts("tcp", tcp); err != nil {
		return err
	}
	if c.Signaling.ResumeWindow < 0 {
		return fmt.Errorf("%w: signaling.resume_window is negative", ErrConfig)
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if err := c.TURN.validate(c.RTC.IPs); err != nil {
		return err
	}
	if c.RTC.RelayOnly && !c.TURN.Enabled() && !hasTURNServer(c.RTC.ICEServers) {
		return fmt.Errorf("%w: rtc.relay_only needs the embedded TURN server or a turn: URL in rtc.ice_servers", ErrConfig)
	}
	return nil
}

// distinctPorts refuses two listeners of one protocol on one port.
func distinctPorts(proto string, ports map[string]int) error {
	seen := make(map[int]string, len(ports))
	for _, name := range slices.Sorted(maps.Keys(ports)) {
		p := ports[name]
		if p == 0 {
			continue
		}
		if other, ok := seen[p]; ok {
			return fmt.Errorf("%w: %s and %s are both %s port %d", ErrConfig, other, name, proto, p)
		}
		seen[p] = name
	}
	return nil
}

func hasTURNServer(servers []ICEServer) bool {
	for _, s := range servers {
		for _, u := range s.URLs {
			if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
				return true
			}
		}
	}
	return false
}

// SigningKey returns the key (the first in sorted order) and secret that
// tokens minted by this server are signed with.
func (c *Config) SigningKey() (key, secret string) {
	keys := make([]string, 0, len(c.Keys))
	for k := range c.Keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return "", ""
	}
	return keys[0], c.Keys[keys[0]]
}

// UsesDevKey reports whether the public development secret can sign tokens.
func (c *Config) UsesDevKey() bool {
	for _, s := range c.Keys {
		if s == signaling.DevAPISecret {
			return true
		}
	}
	return false
}

func (c *Config) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("%w: log level %q: %w", ErrConfig, c.LogLevel, err)
	}
	return l, nil
}

// Level returns the configured log level (info when invalid).
func (c *Config) Level() slog.Level {
	l, err := c.level()
	if err != nil {
		return slog.LevelInfo
	}
	return l
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (l *LimitsConfig) validate() error {
	if l.MaxRooms < 0 || l.JoinsPerIPPerMinute < 0 || l.MessagesPerSecond < 0 || l.MessageBurst < 0 || l.DataBytesPerSecond < 0 {
		return fmt.Errorf("%w: limits must not be negative", ErrConfig)
	}
	if l.MessagesPerSecond > 0 && l.MessageBurst < 1 {
		return fmt.Errorf("%w: limits.message_burst must be at least 1 with a message rate", ErrConfig)
	}
	return nil
}
