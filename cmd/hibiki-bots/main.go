// Command hibiki-bots is hibiki's load generator: it starts publisher and
// subscriber bots (package bot) against a running server, shows a live table
// on stderr and reports whether the room stayed healthy.
//
//	go run ./cmd/hibiki-bots --url ws://127.0.0.1:7880/ws --room demo \
//	    --publishers 2 --subscribers 3 --duration 20s [--simulcast] [--json FILE] \
//	    [--tile 640x360] [--publishers-subscribe] [--key K --secret S]
//	go run ./cmd/hibiki-bots --scenario webinar --subscribers 200 --rooms 2 \
//	    --ramp 10/s --duration 60s --json run.json
//
// --scenario picks a load shape (meeting, webinar, audio; see scenario.go)
// repeated in each of --rooms rooms; --ramp joins bots at that rate
// (publishers first) instead of all at once; --duration includes the ramp.
// The JSON report carries a per-second series that cmd/hibiki-plot draws.
//
//	go run ./cmd/hibiki-bots --soak --duration 10m [--soak-rooms 2] ...
//
// Tokens are minted with the development key pair unless --key/--secret
// are given. With --tile every receiving bot sends setVideoSize for each
// video track it gets, as a page laying out tiles would; without it the
// server picks the simulcast layer on its own.
//
// Publishers publish a microphone and a camera and, unless
// --publishers-subscribe is given, receive nothing; subscribers publish
// nothing and auto-subscribe to everything. So a healthy run receives
// publishers*2*subscribers tracks (plus publishers*(publishers-1)*2 with
// --publishers-subscribe). The exit status is 1 when fewer tracks arrived
// than expected or any received video froze.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
)

// options are the parsed flags.
type options struct {
	url, room           string
	fallbackURLs        []string // other nodes of the cluster
	publishers          int
	subscribers         int
	duration            time.Duration
	simulcast           bool
	publishersSubscribe bool
	jsonPath            string
	key, secret         string
	allowIPs            []netip.Prefix
	logLevel            slog.Level
	connectTimeout      time.Duration
	quiet               bool
	transport           string
	insecureTLS         bool
	// tileW x tileH is sent as setVideoSize for every received video track.
	tileW, tileH int
	scenario     string
	rooms        int
	ramp         float64 // bots per second, 0 = all at once
	audioOnly    bool
	soak         *soakFlags
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("hibiki-bots", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:7880/ws", "signaling WebSocket URL")
	fs.StringVar(&o.room, "room", "demo", "room to join")
	fallback := fs.String("fallback-urls", "", "comma-separated signaling URLs of other cluster nodes: a bot whose node is gone re-joins through them")
	fs.IntVar(&o.publishers, "publishers", 2, "bots that publish audio and video")
	fs.IntVar(&o.subscribers, "subscribers", 3, "bots that only subscribe")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to run")
	fs.BoolVar(&o.simulcast, "simulcast", false, "publish video as three simulcast layers (q/h/f)")
	fs.BoolVar(&o.publishersSubscribe, "publishers-subscribe", false, "publishers also subscribe to each other")
	fs.StringVar(&o.jsonPath, "json", "", "write the summary as JSON to this file")
	fs.StringVar(&o.key, "key", signaling.DevAPIKey, "API key for minting tokens")
	fs.StringVar(&o.secret, "secret", signaling.DevAPISecret, "API secret for minting tokens")
	allow := fs.String("allow-ips", "", "comma-separated CIDRs admitted for ICE besides loopback (e.g. 10.77.0.0/24)")
	level := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 15*time.Second, "time allowed for one bot to join and publish")
	fs.BoolVar(&o.quiet, "quiet", false, "no live table")
	o.soak = addSoakFlags(fs)
	fs.StringVar(&o.transport, "transport", "ws", "signaling transport: ws (WebSocket), ws-h2 (WebSocket over HTTP/2, wss:// only) or longpoll (HTTP long-poll)")
	fs.BoolVar(&o.insecureTLS, "insecure-tls", false, "accept any server certificate (a server started with --dev-tls)")
	tile := fs.String("tile", "", "WxH: every receiving bot sends setVideoSize with this tile size for each video track, as a page would (default: none, the server's choice)")
	fs.StringVar(&o.scenario, "scenario", "", "load shape per room: meeting, webinar or audio (sets publishers/subscribers/simulcast defaults)")
	fs.IntVar(&o.rooms, "rooms", 1, "rooms, each with the publishers and subscribers given")
	ramp := fs.String("ramp", "", "join rate, e.g. 10/s (default: all at once)")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("parse flags: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := applyScenario(&o, set); err != nil {
		return o, err
	}
	if o.rooms < 1 {
		return o, fmt.Errorf("%w: --rooms must be at least 1", errUsage)
	}
	var err error
	if o.ramp, err = parseRate(*ramp); err != nil {
		return o, err
	}
	if o.publishers < 0 || o.subscribers < 0 || o.publishers+o.subscribers == 0 {
		return o, fmt.Errorf("%w: need at least one bot", errUsage)
	}
	if o.duration <= 0 {
		return o, fmt.Errorf("%w: --duration must be positive", errUsage)
	}
	for _, u := range strings.Split(*fallback, ",") {
		if u = strings.TrimSpace(u); u != "" {
			o.fallbackURLs = append(o.fallbackURLs, u)
		}
	}
	for _, s := range strings.Split(*allow, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return o, fmt.Errorf("%w: --allow-ips %q: %w", errUsage, s, err)
		}
		o.allowIPs = append(o.allowIPs, p)
	}
	if *tile != "" {
		if _, err := fmt.Sscanf(*tile, "%dx%d", &o.tileW, &o.tileH); err != nil || o.tileW <= 0 || o.tileH <= 0 {
			return o, fmt.Errorf("%w: --tile %q is not WxH", errUsage, *tile)
		}
	}
	if err := o.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return o, fmt.Errorf("%w: --log-level: %w", errUsage, err)
	}
	return o, nil
}

var errUsage = errors.New("usage")

// errUnhealthy is returned when the run finished but missed its targets.
var errUnhealthy = errors.New("unhealthy run")

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.soak.enabled {
		if err := runSoak(ctx, o, log, stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	rep, err := run(ctx, o, log, stderr)
	if rep != nil {
		writeSummary(stdout, rep)
		if o.jsonPath != "" {
			if werr := writeJSON(o.jsonPath, rep); werr != nil {
				fmt.Fprintln(stderr, werr)
				return 1
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
