package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// clearEnv unsets the HIBIKI_ variables run reads, restoring them after
// the test, so a developer's shell cannot change the outcome.
func clearEnv(t *testing.T) {
	for _, k := range []string{"HIBIKI_API_KEY", "HIBIKI_API_SECRET", "HIBIKI_LISTEN", "HIBIKI_DEV", "HIBIKI_LOG_LEVEL",
		"HIBIKI_UDP_PORT", "HIBIKI_UDP_PORT_RANGE", "HIBIKI_PUBLIC_IP", "HIBIKI_RTC_IPS", "HIBIKI_PPROF"} {
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTokenCommand(t *testing.T) {
	clearEnv(t)
	cfgFile := filepath.Join(t.TempDir(), "hibiki.yaml")
	if err := os.WriteFile(cfgFile, []byte("keys:\n  filekey: file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dev := signaling.KeySet{signaling.DevAPIKey: signaling.DevAPISecret}
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		keys   signaling.KeySet
		grants signaling.Grants
		ttl    time.Duration
		who    string
	}{
		{name: "defaults", args: []string{"--room", "r", "--identity", "i"}, keys: dev, grants: signaling.AllGrants(), ttl: 6 * time.Hour},
		{name: "name and grants", args: []string{"--room", "r", "--identity", "i", "--name", "Ida", "--can-publish=false", "--can-publish-data=false", "--ttl", "10m"},
			keys: dev, grants: signaling.Grants{CanSubscribe: true}, ttl: 10 * time.Minute, who: "Ida"},
		{name: "key from flags", args: []string{"--room", "r", "--identity", "i", "--api-key", "k", "--api-secret", "s"},
			keys: signaling.KeySet{"k": "s"}, grants: signaling.AllGrants(), ttl: 6 * time.Hour},
		{name: "key from environment", args: []string{"--room", "r", "--identity", "i"}, env: map[string]string{"HIBIKI_API_KEY": "ek", "HIBIKI_API_SECRET": "es"},
			keys: signaling.KeySet{"ek": "es"}, grants: signaling.AllGrants(), ttl: 6 * time.Hour},
		{name: "key from config file", args: []string{"--config", cfgFile, "--room", "r", "--identity", "i"},
			keys: signaling.KeySet{"filekey": "file-secret"}, grants: signaling.AllGrants(), ttl: 6 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			if err := run(append([]string{"token"}, tt.args...), &out, &errb); err != nil {
				t.Fatalf("run: %v (stderr %q)", err, errb.String())
			}
			tok := strings.TrimSuffix(out.String(), "\n")
			if tok == "" || strings.ContainsAny(tok, " \n") {
				t.Fatalf("output %q is not one token line", out.String())
			}
			c, err := tt.keys.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Room != "r" || c.Identity() != "i" || c.Name != tt.who || c.Grants != tt.grants {
				t.Errorf("claims = room %q identity %q name %q grants %+v", c.Room, c.Identity(), c.Name, c.Grants)
			}
			if left := time.Until(c.ExpiresAt.Time); left < tt.ttl-time.Minute || left > tt.ttl {
				t.Errorf("token expires in %v, want about %v", left, tt.ttl)
			}
			if tt.keys[signaling.DevAPIKey] == "" {
				if _, err := dev.Verify(tok); err == nil {
					t.Error("token also verifies with the development key")
				}
			}
		})
	}
}

func TestTokenCommandErrors(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name string
		args []string
	}{
		{"missing room", []string{"--identity", "i"}},
		{"missing identity", []string{"--room", "r"}},
		{"nothing", nil},
		{"unknown flag", []string{"--room", "r", "--identity", "i", "--bogus"}},
		{"api key without secret", []string{"--room", "r", "--identity", "i", "--api-key", "k"}},
		{"bad ttl", []string{"--room", "r", "--identity", "i", "--ttl", "forever"}},
		{"missing config file", []string{"--room", "r", "--identity", "i", "--config", filepath.Join(t.TempDir(), "none.yaml")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := run(append([]string{"token"}, tt.args...), &out, &errb); err == nil {
				t.Fatalf("run succeeded, printed %q", out.String())
			}
			if out.Len() != 0 {
				t.Errorf("printed %q on failure", out.String())
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		var out, errb bytes.Buffer
		err := run([]string{"token", "--help"}, &out, &errb)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errb.String(), "-room") {
			t.Errorf("help: %v, stderr %q", err, errb.String())
		}
	})
}

func TestEnvName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"listen", "LISTEN"},
		{"udp-port-range", "UDP_PORT_RANGE"},
		{"api-key", "API_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := envName(tt.in); got != tt.want {
				t.Errorf("envName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPProfFlagAndEndpoint(t *testing.T) {
	clearEnv(t)
	cfg, err := loadConfig("hibiki", []string{"--pprof", "127.0.0.1:0"}, io.Discard, nil)
	if err != nil || cfg.PProf != "127.0.0.1:0" {
		t.Fatalf("--pprof: cfg.PProf = %q, err %v", cfg.PProf, err)
	}
	if def := app.DefaultConfig(); def.PProf != "" {
		t.Errorf("pprof is on by default at %q", def.PProf)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	stop, err := servePProf(ctx, addr, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /debug/pprof/cmdline: %s", resp.Status)
	}
}
