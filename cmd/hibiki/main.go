// Command hibiki runs the SFU server, or with "token" prints a join token.
//
//	go run ./cmd/hibiki                       # server with the built-in config
//	go run ./cmd/hibiki --config hibiki.yaml  # with a config file
//	go run ./cmd/hibiki token --room demo --identity alice
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/examples/web"
	"github.com/hibiki-sfu/hibiki/internal/xconnect" // WebSocket over HTTP/2; must run before net/http's init
	"github.com/hibiki-sfu/hibiki/signaling"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "hibiki:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "token" {
		return runToken(args[1:], stdout, stderr)
	}
	cfg, err := loadConfig("hibiki", args, stderr, nil)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.Level()}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, logger)
}

// loadConfig applies, in order: built-in defaults, --config file, HIBIKI_*
// environment, flags. extra registers command-specific flags.
func loadConfig(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (app.Config, error) {
	cfg := app.DefaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "YAML config file overriding the built-in defaults")
	overrides := app.Overrides()
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	given := map[string]string{}
	for _, n := range names {
		fs.Func(n, "override "+n+" (env HIBIKI_"+envName(n)+")", func(v string) error {
			given[n] = v
			return nil
		})
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if *file != "" {
		if err := cfg.LoadFile(*file); err != nil {
			return cfg, err
		}
	}
	if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
		return cfg, err
	}
	for _, n := range names {
		if v, ok := given[n]; ok {
			if err := overrides[n](&cfg, v); err != nil {
				return cfg, fmt.Errorf("--%s: %w", n, err)
			}
		}
	}
	return cfg, cfg.Validate()
}

func envName(n string) string {
	out := []byte(n)
	for i, c := range out {
		switch {
		case c == '-':
			out[i] = '_'
		case c >= 'a' && c <= 'z':
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out)
}

func serve(ctx context.Context, cfg app.Config, logger *slog.Logger) error {
	a, err := app.New(cfg, web.Files(), logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		_ = a.Close()
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.UsesDevKey() {
		logger.Warn("!!! DEVELOPMENT API KEY IN USE: anyone can mint tokens for this server. Set api keys before exposing it !!!")
	}
	if cfg.Dev {
		logger.Warn("development mode: /dev/token hands out join tokens to anyone")
	}
	scheme, wsScheme := "http", "ws"
	if cfg.TLS.Enabled() {
		scheme, wsScheme = "https", "wss"
		if cfg.TLS.DevSelfSigned {
			logger.Warn("--dev-tls: self-signed certificate; browsers will warn (local testing only)")
		}
		if !xconnect.Enabled() {
			logger.Warn("GODEBUG disables extended CONNECT: no WebSocket over HTTP/2 (HTTP/1.1 WebSocket and long-poll still work)")
		}
	}
	addr := ln.Addr().String()
	logger.Info("hibiki ready: open "+scheme+"://"+addr+"/ (signaling at "+wsScheme+"://"+addr+"/ws, long-poll at "+scheme+"://"+addr+"/lp)",
		"media_ips", cfg.RTC.IPs, "udp_port", cfg.RTC.UDPPort)
	return a.Serve(ctx, ln)
}

func runToken(args []string, stdout, stderr io.Writer) error {
	var room, identity, name string
	var ttl time.Duration
	var canPublish, canSubscribe, canData bool
	cfg, err := loadConfig("hibiki token", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&room, "room", "", "room the token admits to (required)")
		fs.StringVar(&identity, "identity", "", "participant identity (required)")
		fs.StringVar(&name, "name", "", "display name")
		fs.DurationVar(&ttl, "ttl", 6*time.Hour, "token lifetime")
		fs.BoolVar(&canPublish, "can-publish", true, "grant canPublish")
		fs.BoolVar(&canSubscribe, "can-subscribe", true, "grant canSubscribe")
		fs.BoolVar(&canData, "can-publish-data", true, "grant canPublishData")
	})
	if err != nil {
		return err
	}
	if room == "" || identity == "" {
		return errors.New("token: --room and --identity are required")
	}
	key, secret := cfg.SigningKey()
	grants := signaling.Grants{CanPublish: canPublish, CanSubscribe: canSubscribe, CanPublishData: canData}
	tok, err := signaling.NewToken(key, secret, room, identity, name, grants, ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
