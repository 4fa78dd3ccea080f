package app

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config does not validate: %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, "127.0.0.1:7880"},
		{"dev", c.Dev, true},
		{"keys", c.Keys, map[string]string{signaling.DevAPIKey: signaling.DevAPISecret}},
		{"uses dev key", c.UsesDevKey(), true},
		{"level", c.Level().String(), "INFO"},
		{"rtc ips", c.RTC.IPs, []string{"127.0.0.1"}},
		{"udp port", c.RTC.UDPPort, 7882},
		{"max message size", c.Signaling.MaxMessageSize, 65536},
		{"ping interval", c.Signaling.PingInterval, 5 * time.Second},
		{"pong timeout", c.Signaling.PongTimeout, 15 * time.Second},
		{"empty grace", c.Room.EmptyGrace, 10 * time.Second},
		{"max tracks", c.Room.MaxTracks, 16},
		{"p2p on", c.Room.P2P, true},
		{"admin off", c.Admin.Key, ""},
		{"no stream keys", len(c.WHIP.StreamKeys), 0},
		{"tcp port", c.RTC.TCPPort, 7881},
		{"relay only", c.RTC.RelayOnly, false},
		{"resume window", c.Signaling.ResumeWindow, 30 * time.Second},
		{"turn off", c.TURN.Enabled(), false},
		{"turn ttl", c.TURN.TTL, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !equal(tt.got, tt.want) {
				t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
			}
		})
	}
	key, secret := c.SigningKey()
	if key != signaling.DevAPIKey || secret != signaling.DevAPISecret {
		t.Errorf("SigningKey() = %q, %q; want the development pair", key, secret)
	}
	// Each call returns its own copy: changing one leaves the next intact.
	c.Keys["x"] = "y"
	if _, ok := DefaultConfig().Keys["x"]; ok {
		t.Error("DefaultConfig shares its keys map between calls")
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case map[string]string:
		return maps.Equal(a, b.(map[string]string))
	case []string:
		return slices.Equal(a, b.([]string))
	default:
		return a == b
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hibiki.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFile(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr bool
		check   func(t *testing.T, c Config)
	}{
		{
			name: "overlay keeps unnamed defaults",
			body: "listen: 0.0.0.0:8000\nsignaling:\n  max_message_size: 4096\nrtc:\n  ips: [10.0.0.5]\n",
			check: func(t *testing.T, c Config) {
				if c.Listen != "0.0.0.0:8000" || c.Signaling.MaxMessageSize != 4096 || !slices.Equal(c.RTC.IPs, []string{"10.0.0.5"}) {
					t.Errorf("overlaid values: listen %q size %d ips %v", c.Listen, c.Signaling.MaxMessageSize, c.RTC.IPs)
				}
				if c.Signaling.PingInterval != 5*time.Second || c.RTC.UDPPort != 7882 || !c.Dev {
					t.Errorf("defaults lost: ping %v port %d dev %v", c.Signaling.PingInterval, c.RTC.UDPPort, c.Dev)
				}
			},
		},
		{
			name: "keys replace the development key",
			body: "dev: false\nkeys:\n  prod: s3cret-prod\n",
			check: func(t *testing.T, c Config) {
				if want := map[string]string{"prod": "s3cret-prod"}; !maps.Equal(c.Keys, want) {
					t.Errorf("keys = %v, want %v", c.Keys, want)
				}
				if c.UsesDevKey() {
					t.Error("the public development key still signs tokens")
				}
			},
		},
		{
			name: "comments only",
			body: "# everything commented out\n# listen: 0.0.0.0:1\n",
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:7880" {
					t.Errorf("listen = %q", c.Listen)
				}
			},
		},
		{
			name: "p2p off for every room",
			body: "room:\n  p2p: false\n",
			check: func(t *testing.T, c Config) {
				if c.Room.P2P || c.Room.MaxTracks != 16 {
					t.Errorf("room.p2p = %v (want false), max tracks %d (want the default)", c.Room.P2P, c.Room.MaxTracks)
				}
			},
		},
		{name: "unknown field", body: "listne: 0.0.0.0:8000\n", wantErr: true},
		{name: "unknown nested field", body: "rtc:\n  udp_prot: 1\n", wantErr: true},
		{name: "wrong type", body: "rtc:\n  udp_port: many\n", wantErr: true},
		{name: "bad duration", body: "signaling:\n  ping_interval: soon\n", wantErr: true},
		{name: "not yaml", body: "listen: [\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			err := c.LoadFile(writeFile(t, tt.body))
			if tt.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("LoadFile = %v, want ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tt.check(t, c)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		c := DefaultConfig()
		if err := c.LoadFile(filepath.Join(t.TempDir(), "nope.yaml")); !errors.Is(err, ErrConfig) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("LoadFile = %v, want ErrConfig wrapping ErrNotExist", err)
		}
	})
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name  string
		vars  map[string]string
		check func(t *testing.T, c Config)
	}{
		{"nothing set", nil, func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:7880" || !c.Dev {
				t.Errorf("defaults changed: %q %v", c.Listen, c.Dev)
			}
		}},
		{"listen", map[string]string{"HIBIKI_LISTEN": ":9000"}, func(t *testing.T, c Config) {
			if c.Listen != ":9000" {
				t.Errorf("listen = %q", c.Listen)
			}
		}},
		{"api key pair replaces keys", map[string]string{"HIBIKI_API_KEY": "k1", "HIBIKI_API_SECRET": "s1"}, func(t *testing.T, c Config) {
			if want := map[string]string{"k1": "s1"}; !maps.Equal(c.Keys, want) {
				t.Errorf("keys = %v, want %v", c.Keys, want)
			}
			if k, s := c.SigningKey(); k != "k1" || s != "s1" {
				t.Errorf("SigningKey = %q, %q", k, s)
			}
			if c.UsesDevKey() {
				t.Error("development key still in use")
			}
		}},
		{"udp port range", map[string]string{"HIBIKI_UDP_PORT_RANGE": "50000-50100"}, func(t *testing.T, c Config) {
			if c.RTC.UDPPortMin != 50000 || c.RTC.UDPPortMax != 50100 || c.RTC.UDPPort != 0 {
				t.Errorf("rtc = %+v", c.RTC)
			}
		}},
		{"udp port", map[string]string{"HIBIKI_UDP_PORT": "9999"}, func(t *testing.T, c Config) {
			if c.RTC.UDPPort != 9999 {
				t.Errorf("udp port = %d", c.RTC.UDPPort)
			}
		}},
		{"public ips list", map[string]string{"HIBIKI_PUBLIC_IP": " 203.0.113.1, ,203.0.113.2 "}, func(t *testing.T, c Config) {
			if want := []string{"203.0.113.1", "203.0.113.2"}; !slices.Equal(c.RTC.PublicIPs, want) {
				t.Errorf("public ips = %q, want %q", c.RTC.PublicIPs, want)
			}
		}},
		{"rtc ips", map[string]string{"HIBIKI_RTC_IPS": "127.0.0.1,::1"}, func(t *testing.T, c Config) {
			if want := []string{"127.0.0.1", "::1"}; !slices.Equal(c.RTC.IPs, want) {
				t.Errorf("ips = %q", c.RTC.IPs)
			}
		}},
		{"dev off", map[string]string{"HIBIKI_DEV": "false"}, func(t *testing.T, c Config) {
			if c.Dev {
				t.Error("dev still on")
			}
		}},
		{"cluster", map[string]string{
			"HIBIKI_REDIS_ADDRESS": "127.0.0.1:6379", "HIBIKI_NODE_ID": "n1", "HIBIKI_NODE_URL": "wss://n1.example.org/ws",
		}, func(t *testing.T, c Config) {
			if !c.Clustered() || c.Redis.Address != "127.0.0.1:6379" || c.Node.ID != "n1" || c.Node.URL != "wss://n1.example.org/ws" {
				t.Errorf("redis = %+v, node = %+v", c.Redis, c.Node)
			}
			if c.Node.Heartbeat != 2*time.Second || c.Node.TTL != 10*time.Second || c.Redis.Prefix != "hibiki:" || c.Node.DrainTimeout != 30*time.Second {
				t.Errorf("cluster defaults: %+v %+v", c.Node, c.Redis)
			}
		}},
		{"drain timeout", map[string]string{"HIBIKI_DRAIN_TIMEOUT": "5s"}, func(t *testing.T, c Config) {
			if c.Node.DrainTimeout != 5*time.Second {
				t.Errorf("drain timeout = %v", c.Node.DrainTimeout)
			}
		}},
		{"log level", map[string]string{"HIBIKI_LOG_LEVEL": "debug"}, func(t *testing.T, c Config) {
			if c.Level().String() != "DEBUG" {
				t.Errorf("level = %v", c.Level())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			if err := c.ApplyEnv(env(tt.vars)); err != nil {
				t.Fatalf("ApplyEnv: %v", err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestApplyEnvIsDeterministic(t *testing.T) {
	// A single port and a range both set: the result must not depend on
	// map iteration order. The range is applied after the port.
	vars := env(map[string]string{"HIBIKI_UDP_PORT": "7882", "HIBIKI_UDP_PORT_RANGE": "50000-50100"})
	for i := range 50 {
		c := DefaultConfig()
		if err := c.ApplyEnv(vars); err != nil {
			t.Fatal(err)
		}
		if c.RTC.UDPPort != 0 || c.RTC.UDPPortMin != 50000 {
			t.Fatalf("run %d: udp port %d, range %d-%d", i, c.RTC.UDPPort, c.RTC.UDPPortMin, c.RTC.UDPPortMax)
		}
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		edit func(c *Config)
	}{
		{name: "range reversed", vars: map[string]string{"HIBIKI_UDP_PORT_RANGE": "50100-50000"}},
		{name: "range not a range", vars: map[string]string{"HIBIKI_UDP_PORT_RANGE": "50000"}},
		{name: "range out of 16 bits", vars: map[string]string{"HIBIKI_UDP_PORT_RANGE": "50000-70000"}},
		{name: "range with words", vars: map[string]string{"HIBIKI_UDP_PORT_RANGE": "low-high"}},
		{name: "port not a number", vars: map[string]string{"HIBIKI_UDP_PORT": "auto"}},
		{name: "port too large", vars: map[string]string{"HIBIKI_UDP_PORT": "70000"}},
		{name: "port negative", vars: map[string]string{"HIBIKI_UDP_PORT": "-1"}},
		{name: "dev not a bool", vars: map[string]string{"HIBIKI_DEV": "maybe"}},
		{name: "log level", vars: map[string]string{"HIBIKI_LOG_LEVEL": "chatty"}},
		{name: "empty listen", vars: map[string]string{"HIBIKI_LISTEN": ""}},
		{name: "api key without secret", vars: map[string]string{"HIBIKI_API_KEY": "k1"}},
		{name: "api secret without key", vars: map[string]string{"HIBIKI_API_SECRET": "s1"}},
		{name: "api key without secret, set directly", edit: func(c *Config) { c.APIKey = "k1" }},
		{name: "no keys", edit: func(c *Config) { c.Keys = nil }},
		{name: "key without secret", edit: func(c *Config) { c.Keys = map[string]string{"k": ""} }},
		{name: "empty stream key", edit: func(c *Config) { c.WHIP.StreamKeys = map[string]string{"live": ""} }},
		{name: "tcp port not a number", vars: map[string]string{"HIBIKI_TCP_PORT": "x"}},
		{name: "tcp port too large", edit: func(c *Config) { c.RTC.TCPPort = 65536 }},
		{name: "turn port negative", edit: func(c *Config) { c.TURN.UDPPort = -1 }},
		{name: "range without max", edit: func(c *Config) { c.RTC.UDPPort, c.RTC.UDPPortMin = 0, 50000 }},
		{name: "range without min", edit: func(c *Config) { c.RTC.UDPPort, c.RTC.UDPPortMax = 0, 50000 }},
		{name: "range reversed, set directly", edit: func(c *Config) { c.RTC.UDPPort, c.RTC.UDPPortMin, c.RTC.UDPPortMax = 0, 6, 5 }},
		{name: "range and one port", edit: func(c *Config) { c.RTC.UDPPortMin, c.RTC.UDPPortMax = 50000, 50100 }},
		{name: "ice-tcp on the turn tcp port", edit: func(c *Config) { c.TURN.TCPPort = c.RTC.TCPPort }},
		{name: "media and turn on one udp port", edit: func(c *Config) { c.TURN.UDPPort = c.RTC.UDPPort }},
		{name: "negative resume window", edit: func(c *Config) { c.Signaling.ResumeWindow = -time.Second }},
		{name: "relay only without turn", vars: map[string]string{"HIBIKI_RELAY_ONLY": "true"}},
		{name: "relay only not a bool", vars: map[string]string{"HIBIKI_RELAY_ONLY": "sometimes"}},
		{name: "relay only with a stun server only", edit: func(c *Config) {
			c.RTC.RelayOnly = true
			c.RTC.ICEServers = []ICEServer{{URLs: []string{"stun:stun.example.org"}}}
		}},
		{name: "redis without node url", vars: map[string]string{"HIBIKI_REDIS_ADDRESS": "127.0.0.1:6379"}},
		{name: "node url not a websocket", vars: map[string]string{"HIBIKI_REDIS_ADDRESS": "r:6379", "HIBIKI_NODE_URL": "http://n/ws"}},
		{name: "heartbeat not below node ttl", edit: func(c *Config) {
			c.Redis.Address, c.Node.URL, c.Node.Heartbeat, c.Node.TTL = "r:6379", "ws://n/ws", 10*time.Second, 10*time.Second
		}},
		{name: "zero drain timeout", edit: func(c *Config) {
			c.Redis.Address, c.Node.URL, c.Node.DrainTimeout = "r:6379", "ws://n/ws", 0
		}},
		{name: "drain timeout not a duration", vars: map[string]string{"HIBIKI_DRAIN_TIMEOUT": "soon"}},
		{name: "turn without ttl", edit: func(c *Config) { c.TURN.UDPPort, c.TURN.TTL = 3478, 0 }},
		{name: "turn without ips", edit: func(c *Config) { c.TURN.UDPPort, c.RTC.IPs = 3478, nil }},
		{name: "turn ip not an ip", edit: func(c *Config) { c.TURN.UDPPort, c.TURN.IPs = 3478, []string{"turn.example.org"} }},
		{name: "turn tls without cert", edit: func(c *Config) { c.TURN.TLSPort, c.TURN.Domain = 443, "turn.example.org" }},
		{name: "turn tls without domain", edit: func(c *Config) {
			c.TURN.TLSPort, c.TURN.CertFile, c.TURN.KeyFile = 443, "c.pem", "k.pem"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			if tt.edit != nil {
				tt.edit(&c)
			}
			err := c.ApplyEnv(env(tt.vars))
			if err == nil {
				err = c.Validate()
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
}

// The doors' settings come from the file (stream keys) or the environment
// (the admin key, which belongs in a secret store, not a file).
func TestDoorsConfig(t *testing.T) {
	c := DefaultConfig()
	path := filepath.Join(t.TempDir(), "hibiki.yaml")
	if err := os.WriteFile(path, []byte("whip:\n  stream_keys:\n    live: k3y\nadmin:\n  key: from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyEnv(env(map[string]string{"HIBIKI_ADMIN_KEY": "from-env"})); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.WHIP.StreamKeys["live"] != "k3y" || c.Admin.Key != "from-env" {
		t.Errorf("stream keys %v, admin key %q", c.WHIP.StreamKeys, c.Admin.Key)
	}
}

// Network settings that must be accepted.
func TestGoodNetworkConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
	}{
		{"udp port range", func(c *Config) { c.RTC.UDPPort, c.RTC.UDPPortMin, c.RTC.UDPPortMax = 0, 50000, 50100 }},
		{"one-port range", func(c *Config) { c.RTC.UDPPort, c.RTC.UDPPortMin, c.RTC.UDPPortMax = 0, 50000, 50000 }},
		{"ice-tcp off", func(c *Config) { c.RTC.TCPPort = 0 }},
		{"turn udp and tcp on one number", func(c *Config) { c.TURN.UDPPort, c.TURN.TCPPort = 3478, 3478 }},
		{"relay only with embedded turn", func(c *Config) { c.RTC.RelayOnly, c.TURN.TCPPort = true, 3478 }},
		{"relay only with external turn", func(c *Config) {
			c.RTC.RelayOnly = true
			c.RTC.ICEServers = []ICEServer{{URLs: []string{"turns:turn.example.org:443?transport=tcp"}}}
		}},
		{"ipv6", func(c *Config) { c.RTC.IPs = []string{"127.0.0.1", "::1"}; c.TURN.UDPPort = 3478 }},
		{"resume off", func(c *Config) { c.Signaling.ResumeWindow = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			if err := c.Validate(); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestLoadFileNetworkKeys(t *testing.T) {
	c := DefaultConfig()
	path := writeFile(t, `
rtc:
  tcp_port: 8881
  ips: [127.0.0.1, "::1"]
  relay_only: true
turn:
  udp_port: 3478
  tcp_port: 3478
  tls_port: 5349
  cert_file: /etc/hibiki/turn.pem
  key_file: /etc/hibiki/turn.key
  domain: turn.example.org
  secret: s3cret
  ttl: 2h
signaling:
  resume_window: 10s
`)
	if err := c.LoadFile(path); err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	want := TURNConfig{UDPPort: 3478, TCPPort: 3478, TLSPort: 5349, CertFile: "/etc/hibiki/turn.pem",
		KeyFile: "/etc/hibiki/turn.key", Domain: "turn.example.org", Secret: "s3cret", TTL: 2 * time.Hour, IPs: []string{}}
	if c.TURN.Secret != want.Secret || c.TURN.TTL != want.TTL || c.TURN.TLSPort != want.TLSPort || c.TURN.Domain != want.Domain {
		t.Errorf("turn = %+v", c.TURN)
	}
	if c.RTC.TCPPort != 8881 || !c.RTC.RelayOnly || c.Signaling.ResumeWindow != 10*time.Second || len(c.RTC.IPs) != 2 {
		t.Errorf("rtc = %+v, resume window %v", c.RTC, c.Signaling.ResumeWindow)
	}
}
